//! `etlake index --shard i/N`: which objects one of N concurrent runs takes. Each object goes to the
//! shard its URI hashes to, the same on every machine and etlake version, so N runs over one listing
//! split it without talking to each other. Kept apart from the pipeline: deciding ownership is pure.
//!
//! The hash is FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of the URI's UTF-8
//! bytes, in the form `--report` rows show (`s3://bucket/key` as listed, local files as `file://`
//! URIs); the shard is `floor(hash × N / 2^64)`, i.e. the hash's high bits. A file that is a
//! measurement sibling of a claimed file (`suffix:` or `file:` in a recognition spec) goes with the
//! file that claims it, so a multi-file dataset is read by one shard.
use crate::unclaimed::Siblings;

/// One shard of `count` (`index` in `0..count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This run's shard, from 0.
    pub index: u32,
    /// How many shards share the objects.
    pub count: u32,
}

/// Kubernetes Indexed Jobs set this in each pod (the completion count is not exposed).
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// AWS Batch sets these in each child of an array job.
pub const BATCH_INDEX: &str = "AWS_BATCH_JOB_ARRAY_INDEX";
/// The size of the AWS Batch array job.
pub const BATCH_SIZE: &str = "AWS_BATCH_JOB_ARRAY_SIZE";

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Shard {
    /// A shard, or why the numbers cannot be one.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is not below the shard count {count} (shards are numbered 0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard `uri` belongs to among `count`.
    pub fn of(uri: &str, count: u32) -> u32 {
        ((u128::from(fnv1a64(uri.as_bytes())) * u128::from(count)) >> 64) as u32
    }

    /// Whether this shard takes the object whose owning URI is `uri`.
    pub fn takes(&self, uri: &str) -> bool {
        Shard::of(uri, self.count) == self.index
    }

    /// The shard of `etlake index`: `--shard` (`i/N`, `i`, or `/N`) and `--shard-count`, with the
    /// index (and count) not given taken from the environment (`JOB_COMPLETION_INDEX`, or
    /// `AWS_BATCH_JOB_ARRAY_INDEX` and `AWS_BATCH_JOB_ARRAY_SIZE`). `None`: not sharded.
    pub fn resolve(
        arg: Option<&str>,
        count_arg: Option<u32>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Shard>, String> {
        let number = |what: &str, s: &str| -> Result<u32, String> {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} {s:?} is not a whole number from 0"))
        };
        let (mut index, mut count) = (None, count_arg);
        if let Some(a) = arg {
            let (i, n) = match a.split_once('/') {
                Some((i, n)) => (i, Some(n)),
                None => (a, None),
            };
            if !i.is_empty() {
                index = Some(number("--shard index", i)?);
            }
            if let Some(n) = n {
                let n = number("--shard count", n)?;
                if count_arg.is_some_and(|c| c != n) {
                    return Err(format!(
                        "--shard {a} and --shard-count {} disagree",
                        count_arg.unwrap_or_default()
                    ));
                }
                count = Some(n);
            }
            if index.is_none() && count.is_none() {
                return Err(format!("--shard {a:?}: expected i/N, i or /N"));
            }
        }
        let var = |name: &str| -> Result<Option<u32>, String> {
            env(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| number(&format!("${name}"), &v))
                .transpose()
        };
        if index.is_none() {
            let k8s = var(K8S_INDEX)?;
            let batch = var(BATCH_INDEX)?;
            match (k8s, batch) {
                (Some(i), _) => index = Some(i),
                (None, Some(i)) => {
                    index = Some(i);
                    if count.is_none() {
                        count = Some(var(BATCH_SIZE)?.ok_or_else(|| {
                            format!("${BATCH_INDEX} is set but ${BATCH_SIZE} is not: give --shard-count")
                        })?);
                    }
                }
                (None, None) => {}
            }
            if index.is_none() && (arg.is_some() || count_arg.is_some()) {
                return Err(format!(
                    "no shard index: give --shard i/N, or run where ${K8S_INDEX} (Kubernetes Indexed Job) \
                     or ${BATCH_INDEX} (AWS Batch array job) is set"
                ));
            }
        }
        match (index, count) {
            (Some(i), Some(n)) => Shard::new(i, n).map(Some),
            (Some(i), None) if arg.is_some() => Err(format!(
                "--shard {i} needs the number of shards: --shard {i}/N or --shard-count N"
            )),
            // An Indexed Job pod without a count: not sharded (the caller warns).
            _ => Ok(None),
        }
    }
}

/// The URI whose hash decides an object's shard: the claimed file's for a sibling file whose owner can
/// be told from its name, the object's own otherwise.
pub fn owner(uri: &str, siblings: &Siblings) -> String {
    crate::objects::object_uri(&siblings.owner(uri).unwrap_or_else(|| uri.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // From the FNV reference test suite (Fowler/Noll/Vo, test_fnv.c).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn shards_are_stable_and_balanced() {
        // Pinned: a change here moves objects between shards of runs already under way.
        // (Values computed outside etlake from the FNV-1a definition.)
        assert_eq!(fnv1a64(b"s3://lake/a.tif"), 0x40dd15179d029337);
        assert_eq!(Shard::of("s3://lake/a.tif", 4), 1);
        let whc = "file:///lake/soil/soil_frontrange_2020_whc.tif";
        assert_eq!((Shard::of(whc, 4), Shard::of(whc, 7)), (2, 4));
        let pinned: Vec<u32> = (0..8)
            .map(|i| Shard::of(&format!("s3://lake/chirps-v2.0.2020.01.0{i}.tif"), 4))
            .collect();
        let again: Vec<u32> = (0..8)
            .map(|i| {
                let h = fnv1a64(format!("s3://lake/chirps-v2.0.2020.01.0{i}.tif").as_bytes());
                (h >> 62) as u32
            })
            .collect();
        assert_eq!(pinned, again, "floor(h × 4 / 2^64) is the top two bits");
        let mut per = [0usize; 4];
        for d in 0..4000 {
            per[Shard::of(&format!("s3://lake/x/{d:05}.tif"), 4) as usize] += 1;
        }
        assert!(per.iter().all(|n| (850..1150).contains(n)), "{per:?}");
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn shard_from_arguments_and_environment() {
        let none = env(&[]);
        let k8s = env(&[(K8S_INDEX, "2")]);
        let batch = env(&[(BATCH_INDEX, "3"), (BATCH_SIZE, "10")]);
        let s = |i, n| Ok(Some(Shard { index: i, count: n }));
        assert_eq!(Shard::resolve(None, None, &none), Ok(None));
        assert_eq!(Shard::resolve(Some("1/4"), None, &none), s(1, 4));
        assert_eq!(Shard::resolve(Some("1"), Some(4), &none), s(1, 4));
        assert_eq!(Shard::resolve(Some("/4"), None, &k8s), s(2, 4));
        assert_eq!(Shard::resolve(None, Some(4), &k8s), s(2, 4));
        assert_eq!(Shard::resolve(None, None, &batch), s(3, 10));
        assert_eq!(Shard::resolve(Some("/5"), None, &batch), s(3, 5));
        assert_eq!(Shard::resolve(Some("0/2"), None, &batch), s(0, 2));
        // An Indexed Job pod with no count given is not sharded (the caller warns).
        assert_eq!(Shard::resolve(None, None, &k8s), Ok(None));
        for (arg, count, e, says) in [
            (
                Some("4/4"),
                None,
                &none as &dyn Fn(&str) -> Option<String>,
                "not below",
            ),
            (Some("0/0"), None, &none, "at least 1"),
            (Some("x/4"), None, &none, "not a whole number"),
            (Some("-1/4"), None, &none, "not a whole number"),
            (Some("1"), None, &none, "needs the number of shards"),
            (Some("/4"), None, &none, "no shard index"),
            (None, Some(4), &none, "no shard index"),
            (Some("1/4"), Some(3), &none, "disagree"),
            (Some("/"), None, &none, "not a whole number"),
            (Some(""), None, &none, "expected i/N"),
            (
                None,
                Some(4),
                &env(&[(K8S_INDEX, "four")]),
                "$JOB_COMPLETION_INDEX",
            ),
            (
                None,
                None,
                &env(&[(BATCH_INDEX, "1")]),
                "AWS_BATCH_JOB_ARRAY_SIZE",
            ),
            (
                None,
                None,
                &env(&[(BATCH_INDEX, "7"), (BATCH_SIZE, "5")]),
                "not below",
            ),
        ] {
            let got = Shard::resolve(arg, count, e);
            assert!(
                matches!(&got, Err(m) if m.contains(says)),
                "{arg:?} {count:?}: {got:?}, expected an error saying {says:?}"
            );
        }
    }
}
