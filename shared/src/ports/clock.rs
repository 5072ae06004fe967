//! `Clock` port and time-ordered ids: the system clock in production, a settable clock in tests.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use ulid::Ulid;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// A new ULID whose time part is `now()`; ids from one process are strictly increasing, even
    /// within one millisecond, so time-ordered listings keep creation order.
    fn new_id(&self) -> Ulid {
        static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);
        let at = self.now().into();
        let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
        generator.get_or_insert_with(ulid::Generator::new).generate_from_datetime(at).unwrap_or_else(|_| Ulid::from_datetime(at))
    }

    fn epoch_seconds(&self) -> i64 {
        self.now().timestamp()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_within_one_millisecond() {
        let clock = FixedClock::new(Utc::now());
        let ids: Vec<Ulid> = (0..100).map(|_| clock.new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}

#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}
