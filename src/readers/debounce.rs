//! Repeat suppression. An RDM6300 repeats its frame while a card stays in the field, and some
//! line readers send a badge twice: a token is reported once, and again only after no read of
//! it for the hold time (the card left the field). Pure: time arrives with each call.

use std::time::Duration;

use tokio::time::Instant;

use super::token::Token;

/// Recently seen tokens and when each was last read.
#[derive(Debug)]
pub struct Debounce {
    hold: Duration,
    /// A few entries at most: only cards read within the hold time are kept.
    recent: Vec<(Token, Instant)>,
}

impl Debounce {
    pub fn new(hold: Duration) -> Debounce {
        Debounce {
            hold,
            recent: Vec::new(),
        }
    }

    /// Whether a read of `token` at `now` is a new presentation to report.
    pub fn accept(&mut self, token: &Token, now: Instant) -> bool {
        let hold = self.hold;
        self.recent
            .retain(|(_, seen)| now.saturating_duration_since(*seen) < hold);
        match self.recent.iter_mut().find(|(t, _)| t == token) {
            Some((_, seen)) => {
                // Still in the field: the hold restarts from this read.
                *seen = now;
                false
            }
            None => {
                self.recent.push((token.clone(), now));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(hex: &str) -> Token {
        Token::from_hex(hex).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_card_held_in_the_field_is_reported_once() {
        let mut d = Debounce::new(Duration::from_millis(1500));
        let a = tok("0102030405");
        assert!(d.accept(&a, Instant::now()));
        // Repeated every 100 ms for 5 s: never reported again.
        for _ in 0..50 {
            tokio::time::advance(Duration::from_millis(100)).await;
            assert!(!d.accept(&a, Instant::now()));
        }
        // Away for less than the hold time: still the same presentation.
        tokio::time::advance(Duration::from_millis(1400)).await;
        assert!(!d.accept(&a, Instant::now()));
        // Away for the hold time: a new presentation.
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(d.accept(&a, Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn another_card_is_reported_at_once() {
        let mut d = Debounce::new(Duration::from_millis(1500));
        assert!(d.accept(&tok("01"), Instant::now()));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(d.accept(&tok("02"), Instant::now()));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(!d.accept(&tok("01"), Instant::now()));
    }
}
