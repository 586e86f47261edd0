//! User-hash shards: `--shard i/n` keeps the users whose stable hash falls in part `i` of
//! `n`, so a big log can be scored by `n` independent workers (or one worker `n` times,
//! each holding a `1/n` slice of the log in memory) and merged into the list one run would
//! write. The hash depends only on the user id's bytes: the same user lands in the same
//! shard on every machine, every night, in every churnrisk version.

use std::fmt;
use std::str::FromStr;

use polars::prelude::*;

use crate::error::Error;

/// Part `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The shard (1-based) of `count` that `user_id` belongs to.
    pub fn of(user_id: &str, count: u32) -> u32 {
        let h = crate::base::hash::stable_hash(user_id.as_bytes());
        (h % u64::from(count.max(1))) as u32 + 1
    }

    /// Whether `user_id` is in this shard. Rows without a user id go to shard 1, so that
    /// exactly one worker reports them.
    pub fn holds(self, user_id: Option<&str>) -> bool {
        match user_id.filter(|u| !u.is_empty()) {
            Some(u) => Shard::of(u, self.count) == self.index,
            None => self.index == 1,
        }
    }

    /// A boolean expression: whether the text column `user_id` is in this shard.
    pub fn mask(self, user_id: Expr) -> Expr {
        user_id.map(
            move |c: Column| {
                let keep: BooleanChunked = c.str()?.iter().map(|u| self.holds(u)).collect();
                Ok(keep.with_name(c.name().clone()).into_column())
            },
            |_: &Schema, f: &Field| Ok(Field::new(f.name().clone(), DataType::Boolean)),
        )
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument {
            name: "shard".into(),
            message: format!("{s:?} is not i/n with 1 ≤ i ≤ n (e.g. 1/8)"),
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_is_in_exactly_one_shard_and_shards_are_even() {
        let n = 8;
        let mut sizes = vec![0usize; n as usize];
        for u in 0..40_000 {
            let id = format!("user{u}");
            let holders: Vec<u32> = (1..=n)
                .filter(|&i| Shard { index: i, count: n }.holds(Some(&id)))
                .collect();
            assert_eq!(holders.len(), 1);
            sizes[holders[0] as usize - 1] += 1;
        }
        // 5,000 expected per shard; a fair hash stays within a few percent.
        for s in sizes {
            assert!((4_700..5_300).contains(&s), "{s}");
        }
        assert!(Shard { index: 1, count: 3 }.holds(None));
        assert!(!Shard { index: 2, count: 3 }.holds(Some("")));
        // Pinned (computed independently): a user's shard must never change between
        // versions, or a merge would mix two assignments.
        assert_eq!(Shard::of("1711", 4), 2);
        assert_eq!(Shard::of("user42", 10), 2);
        assert_eq!(Shard::of("u-0001", 7), 2);
        assert_eq!(Shard::of("1711", 7), 5);
        assert_eq!(Shard::of("abd", 9), 1);
    }

    #[test]
    fn parses_i_of_n() {
        assert_eq!(
            "2/5".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 5 }
        );
        for bad in ["0/3", "4/3", "1/0", "x", "1-2", "1/"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
