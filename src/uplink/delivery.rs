//! Which records of one up stream to publish next: in sequence order, at most `window`
//! published and not acknowledged, everything unacknowledged again after a reconnect, and
//! cumulative acknowledgements (docs/mqtt.md, "Delivery"). Pure bookkeeping: never publishes,
//! never touches the database.

/// An acknowledgement for records never sent: refused, nothing changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("acknowledgement of {acked} is ahead of the last record sent ({sent})")]
pub struct AckAhead {
    pub acked: u64,
    pub sent: u64,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    /// Central has everything up to here.
    acked: u64,
    /// Published on this connection up to here (reset to `acked` at every connection).
    sent: u64,
    /// The highest ever published: central may acknowledge up to it, even after a reconnect.
    highest_sent: u64,
    window: u64,
}

impl Delivery {
    /// `acked`: what the database says central has.
    pub fn new(acked: u64, window: usize) -> Delivery {
        Delivery {
            acked,
            sent: acked,
            highest_sent: acked,
            window: window.max(1) as u64,
        }
    }

    /// A new connection: whatever is not acknowledged goes again, from the oldest (the broker
    /// may have lost it; central deduplicates by id).
    pub fn reconnected(&mut self) {
        self.sent = self.acked;
    }

    /// The records to publish next are those after this sequence number...
    pub fn next_after(&self) -> u64 {
        self.sent
    }

    /// ...and at most this many of them.
    pub fn room(&self) -> usize {
        self.window.saturating_sub(self.sent - self.acked) as usize
    }

    pub fn published(&mut self, seq: u64) {
        self.sent = self.sent.max(seq);
        self.highest_sent = self.highest_sent.max(seq);
    }

    /// Central has everything up to `upto`. `Ok(Some(n))`: records up to `n` may leave the
    /// site; `Ok(None)`: nothing new (a repeated or older acknowledgement).
    pub fn acknowledge(&mut self, upto: u64) -> Result<Option<u64>, AckAhead> {
        if upto > self.highest_sent {
            return Err(AckAhead {
                acked: upto,
                sent: self.highest_sent,
            });
        }
        if upto <= self.acked {
            return Ok(None);
        }
        self.acked = upto;
        // Acknowledged before they were sent again on this connection: skip them.
        self.sent = self.sent.max(upto);
        Ok(Some(upto))
    }

    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Published and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.sent - self.acked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_bounds_what_is_in_flight_and_acks_open_it_again() {
        let mut d = Delivery::new(10, 3);
        assert_eq!((d.next_after(), d.room()), (10, 3));
        for seq in 11..=13 {
            d.published(seq);
        }
        assert_eq!(d.room(), 0, "three in flight: the window is full");
        assert_eq!(d.acknowledge(12), Ok(Some(12)));
        assert_eq!((d.next_after(), d.room()), (13, 2));
        assert_eq!(d.acknowledge(11), Ok(None), "an older ack changes nothing");
    }

    #[test]
    fn after_a_reconnect_everything_unacknowledged_goes_again() {
        let mut d = Delivery::new(0, 100);
        for seq in 1..=5 {
            d.published(seq);
        }
        d.acknowledge(2).unwrap();
        d.reconnected();
        assert_eq!(d.next_after(), 2, "3, 4 and 5 are sent again");
        // A late ack from before the cut, for records not yet resent, is still good.
        assert_eq!(d.acknowledge(4), Ok(Some(4)));
        assert_eq!(d.next_after(), 4, "only 5 goes again");
    }

    #[test]
    fn an_ack_for_records_never_sent_is_refused_and_changes_nothing() {
        let mut d = Delivery::new(0, 100);
        d.published(1);
        assert_eq!(d.acknowledge(7), Err(AckAhead { acked: 7, sent: 1 }));
        assert_eq!((d.acked(), d.in_flight()), (0, 1));
    }
}
