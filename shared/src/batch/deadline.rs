//! The invocation's deadline: when Lambda kills the function if it has not answered.
//!
//! A batch that is killed fails as a whole (every record is delivered again, the ones already
//! done included) and its log ends mid-way. So a batch watches the deadline: shortly before it,
//! the records not yet done are reported as batch item failures and the function answers, which
//! costs those records one redelivery and nothing else (every handler is idempotent).

use std::time::{Duration, Instant};

/// The most a batch keeps in reserve before the deadline to answer in time.
pub const MAX_RESERVE: Duration = Duration::from_secs(2);

/// When an invocation must have answered, and when its batch stops working to do so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    cutoff: Option<Instant>,
}

impl Deadline {
    /// No deadline (tools, tests that do not exercise it).
    pub fn none() -> Self {
        Deadline { cutoff: None }
    }

    /// A deadline `budget` from now. The batch stops `min(2 s, budget / 5)` before it.
    pub fn after(budget: Duration) -> Self {
        let reserve = MAX_RESERVE.min(budget / 5);
        Deadline {
            cutoff: Some(Instant::now() + budget.saturating_sub(reserve)),
        }
    }

    /// Lambda's deadline, in milliseconds since the Unix epoch (`Lambda-Runtime-Deadline-Ms`).
    pub fn from_epoch_ms(deadline_ms: u64) -> Self {
        let now_ms = u64::try_from(crate::clock::now_ms()).unwrap_or(0);
        Self::after(Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    /// When the batch stops starting and finishing work; `None` without a deadline.
    pub fn cutoff(&self) -> Option<Instant> {
        self.cutoff
    }

    /// Whether the cutoff has passed.
    pub fn reached(&self) -> bool {
        self.cutoff.is_some_and(|cutoff| Instant::now() >= cutoff)
    }

    /// Runs `work` until the cutoff: `None` when the cutoff came first (the work is dropped).
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        match self.cutoff {
            None => Some(work.await),
            Some(cutoff) => tokio::time::timeout_at(cutoff.into(), work).await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_two_seconds_or_a_fifth_of_a_short_budget() {
        let long = Deadline::after(Duration::from_secs(30)).cutoff().unwrap();
        let left = long.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(28) && left > Duration::from_secs(27));
        let short = Deadline::after(Duration::from_secs(1)).cutoff().unwrap();
        let left = short.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(800) && left > Duration::from_millis(700));
    }

    #[tokio::test]
    async fn work_past_the_cutoff_is_dropped() {
        let deadline = Deadline::after(Duration::from_millis(50));
        let slow = deadline
            .run(tokio::time::sleep(Duration::from_secs(5)))
            .await;
        assert_eq!(slow, None);
        assert!(deadline.reached());
        assert_eq!(Deadline::none().run(async { 7 }).await, Some(7));
    }
}
