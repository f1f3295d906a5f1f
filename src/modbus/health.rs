//! Whether a unit answers: after `dead_after` failed polls in a row it is "not connected" and
//! only retried at growing intervals, so a dead unit costs the other units of its bus almost
//! nothing; the first answer clears it. Pure; the owner logs the transitions it returns.

use std::time::Duration;

/// Longest wait between two attempts at a dead unit.
pub const MAX_RETRY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The unit just became unreachable.
    Died,
    /// The unit answered again.
    Revived,
}

#[derive(Debug, Clone)]
pub struct Health {
    dead_after: u32,
    failures: u32,
    dead: bool,
    retry: Duration,
    first_retry: Duration,
}

impl Health {
    pub fn new(dead_after: u32, first_retry: Duration) -> Health {
        Health {
            dead_after,
            failures: 0,
            dead: false,
            retry: first_retry,
            first_retry,
        }
    }

    pub fn is_dead(&self) -> bool {
        self.dead
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    pub fn success(&mut self) -> Option<Transition> {
        self.failures = 0;
        self.retry = self.first_retry;
        std::mem::take(&mut self.dead).then_some(Transition::Revived)
    }

    /// Records a failed poll; returns how long to wait before the next attempt when dead.
    pub fn failure(&mut self) -> (Option<Transition>, Option<Duration>) {
        self.failures = self.failures.saturating_add(1);
        if self.dead {
            let wait = self.retry;
            self.retry = (self.retry * 2).min(MAX_RETRY);
            return (None, Some(wait));
        }
        if self.failures >= self.dead_after {
            self.dead = true;
            let wait = self.retry;
            self.retry = (self.retry * 2).min(MAX_RETRY);
            return (Some(Transition::Died), Some(wait));
        }
        (None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dies_after_n_failures_backs_off_and_revives_on_first_answer() {
        let mut h = Health::new(3, Duration::from_secs(2));
        assert_eq!(h.failure(), (None, None));
        assert_eq!(h.failure(), (None, None));
        assert_eq!(
            h.failure(),
            (Some(Transition::Died), Some(Duration::from_secs(2)))
        );
        assert_eq!(h.failure(), (None, Some(Duration::from_secs(4))));
        for _ in 0..10 {
            h.failure();
        }
        assert_eq!(h.failure().1, Some(MAX_RETRY), "capped");
        assert_eq!(h.success(), Some(Transition::Revived));
        assert_eq!(h.success(), None);
        assert_eq!(h.consecutive_failures(), 0);
    }
}
