//! The prune breaker: deleting a device on a provider's "this token is dead" is right for one
//! phone and catastrophic for all of them. When an unusual share of one provider's recent
//! answers would prune, the cause is a configuration fault (wrong project, wrong key, a proxy
//! answering 404), not a wave of dead phones, so pruning stops until the answers look normal.

use std::collections::VecDeque;

/// Answers remembered per provider.
const WINDOW: usize = 200;
/// Fewer answers than this say nothing about a share.
const MIN_ANSWERS: usize = 10;
/// Opens at this share of would-prune answers…
const OPEN_SHARE: f64 = 0.5;
/// …and closes again below this one.
const CLOSE_SHARE: f64 = 0.2;

/// One provider's recent answers and whether pruning is suspended.
#[derive(Debug, Default)]
pub struct PruneBreaker {
    answers: VecDeque<bool>,
    prunes: usize,
    open: bool,
}

/// What [`PruneBreaker::answer`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// The answer's prune (if it asked for one) may go ahead.
    pub may_prune: bool,
    /// The breaker changed state with this answer: `Some(true)` opened, `Some(false)` closed.
    pub changed: Option<bool>,
    /// Share of would-prune answers in the window.
    pub share: f64,
}

impl PruneBreaker {
    /// Records one answer from the provider (`would_prune`: it said the token is dead).
    pub fn answer(&mut self, would_prune: bool) -> Verdict {
        self.answers.push_back(would_prune);
        self.prunes += usize::from(would_prune);
        if self.answers.len() > WINDOW && self.answers.pop_front() == Some(true) {
            self.prunes -= 1;
        }
        let share = self.prunes as f64 / self.answers.len() as f64;
        let was_open = self.open;
        if !self.open && self.answers.len() >= MIN_ANSWERS && share >= OPEN_SHARE {
            self.open = true;
        } else if self.open && share < CLOSE_SHARE {
            self.open = false;
        }
        Verdict {
            may_prune: !self.open,
            changed: (was_open != self.open).then_some(self.open),
            share,
        }
    }

    /// Whether pruning is suspended.
    pub fn is_open(&self) -> bool {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_dead_tokens_among_live_ones_are_pruned() {
        let mut b = PruneBreaker::default();
        for i in 0..1_000 {
            let v = b.answer(i % 5 == 0);
            assert!(v.may_prune, "answer {i}");
        }
        assert!(!b.is_open());
    }

    #[test]
    fn everything_dead_suspends_pruning_after_a_handful() {
        let mut b = PruneBreaker::default();
        let allowed = (0..100).filter(|_| b.answer(true).may_prune).count();
        assert_eq!(allowed, MIN_ANSWERS - 1);
        assert!(b.is_open());
    }

    #[test]
    fn it_opens_once_and_closes_when_answers_look_normal_again() {
        let mut b = PruneBreaker::default();
        let opened: Vec<_> = (0..50).filter_map(|_| b.answer(true).changed).collect();
        assert_eq!(opened, [true]);
        // Healthy answers dilute the window until the share falls below CLOSE_SHARE.
        let mut closed_after = None;
        for i in 1..=WINDOW {
            if b.answer(false).changed == Some(false) {
                closed_after = Some(i);
                break;
            }
        }
        // The window slides the old prunes out: closed within one window's worth of answers.
        assert!(closed_after.is_some(), "never closed");
        assert!(!b.is_open());
        assert!(b.answer(true).may_prune);
    }

    #[test]
    fn healthy_answers_while_open_are_unaffected() {
        let mut b = PruneBreaker::default();
        for _ in 0..20 {
            b.answer(true);
        }
        assert!(b.is_open());
        let v = b.answer(false);
        assert!(!v.may_prune);
        assert_eq!(v.changed, None);
    }
}
