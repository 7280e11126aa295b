//! One Alma rate for the whole run: `AlmaRate` (`ALMA_RATE`) bounds the calls of every
//! Lambda of an execution together. Transform, Push and the rollover report run alone and
//! take all of it; while the cache Map runs its branches, "Check the course loader job"
//! polls in the other Parallel branch, so the rate is split among them here.

/// The cache Map's `MaxConcurrency` in infra/statemachine.asl.json (an infra test holds
/// the definition to it): the most cache branches that call Alma at once.
pub const CACHE_MAP_CONCURRENCY: u32 = 3;

/// Who calls Alma, for its share of the run's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlmaCaller {
    /// No other step of the run calls Alma meanwhile.
    Alone,
    /// One of the cache Map's concurrent branches.
    CacheBranch,
    /// The course loader job check, beside the cache Map.
    CheckJob,
}

/// A caller's part of the rate: `per_second / divisor` calls a second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlmaShare {
    pub per_second: u32,
    pub divisor: u32,
}

impl AlmaShare {
    pub fn calls_per_second(self) -> f64 {
        f64::from(self.per_second) / f64::from(self.divisor)
    }
}

/// `caller`'s share of `rate` calls a second. With a rate of at least one call a second
/// for each concurrent caller, the check (one call per look) keeps one and the cache
/// branches split the rest in whole calls, so no one-second window sees more than `rate`
/// of them together. Below that, each of them gets an equal fraction (a call every few
/// seconds), which keeps the sum within `rate` on average.
pub fn share(rate: u32, caller: AlmaCaller) -> AlmaShare {
    let callers = CACHE_MAP_CONCURRENCY + 1;
    let whole = |per_second| AlmaShare {
        per_second,
        divisor: 1,
    };
    match caller {
        AlmaCaller::Alone => whole(rate),
        _ if rate < callers => AlmaShare {
            per_second: rate,
            divisor: callers,
        },
        AlmaCaller::CheckJob => whole(1),
        AlmaCaller::CacheBranch => whole((rate - 1) / CACHE_MAP_CONCURRENCY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn together(rate: u32) -> f64 {
        share(rate, AlmaCaller::CheckJob).calls_per_second()
            + f64::from(CACHE_MAP_CONCURRENCY)
                * share(rate, AlmaCaller::CacheBranch).calls_per_second()
    }

    #[test]
    fn a_step_running_alone_keeps_the_whole_rate() {
        assert_eq!(
            share(10, AlmaCaller::Alone),
            AlmaShare {
                per_second: 10,
                divisor: 1
            }
        );
        assert_eq!(share(1, AlmaCaller::Alone).calls_per_second(), 1.0);
    }

    #[test]
    fn the_default_rate_leaves_the_check_one_call_and_each_cache_branch_three() {
        assert_eq!(
            share(10, AlmaCaller::CheckJob),
            AlmaShare {
                per_second: 1,
                divisor: 1
            }
        );
        assert_eq!(
            share(10, AlmaCaller::CacheBranch),
            AlmaShare {
                per_second: 3,
                divisor: 1
            }
        );
        assert_eq!(share(25, AlmaCaller::CacheBranch).per_second, 8);
    }

    #[test]
    fn the_check_and_the_cache_branches_together_never_exceed_the_rate() {
        for rate in 1..=100 {
            let sum = together(rate);
            assert!(sum <= f64::from(rate) + 1e-9, "rate {rate}: {sum}");
            assert!(share(rate, AlmaCaller::CacheBranch).calls_per_second() > 0.0);
            assert!(share(rate, AlmaCaller::CheckJob).calls_per_second() > 0.0);
        }
    }

    #[test]
    fn a_rate_below_the_number_of_callers_is_split_in_fractions() {
        assert_eq!(
            share(2, AlmaCaller::CacheBranch),
            AlmaShare {
                per_second: 2,
                divisor: 4
            }
        );
        assert_eq!(share(2, AlmaCaller::CheckJob).calls_per_second(), 0.5);
        assert_eq!(together(2), 2.0);
    }
}
