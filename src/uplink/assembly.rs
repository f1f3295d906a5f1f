//! A full access list arriving in chunks (docs/mqtt.md, `access/full` and `access/commit`):
//! checks that chunks come in order for one version, hashes their bytes as they pass, and on
//! the commit says whether the list is whole. Chunks go to the store's staging tables as they
//! arrive, so the list is never held in memory; the swap happens only on a good commit. Pure:
//! never writes, never reads a clock.

use super::downlink::{ListChecksum, RefusalReason};
use crate::core::access::SiteRules;

/// Why a chunk or a commit is refused (the staged list is then discarded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssemblyError {
    #[error("chunk {got} of version {version} arrived, chunk {expected} was expected")]
    OutOfOrder {
        version: u64,
        got: u32,
        expected: u32,
    },
    #[error("a commit for version {version} arrived with no list of that version staged")]
    NothingStaged { version: u64 },
    #[error("the list has {expected} chunks, {got} arrived")]
    Incomplete { expected: u32, got: u32 },
    #[error("the chunks' checksum does not match the commit's")]
    ChecksumMismatch,
    #[error("chunk 0 carries no site rules")]
    NoRules,
}

impl AssemblyError {
    /// The refusal reason of docs/mqtt.md.
    pub fn reason(&self) -> RefusalReason {
        match self {
            AssemblyError::ChecksumMismatch => RefusalReason::ChecksumMismatch,
            AssemblyError::Incomplete { .. } => RefusalReason::Incomplete,
            _ => RefusalReason::OutOfOrder,
        }
    }
}

#[derive(Debug)]
struct Staging {
    version: u64,
    chunks: u32,
    next: u32,
    checksum: ListChecksum,
    rules: Option<SiteRules>,
}

#[derive(Debug, Default)]
pub struct ListAssembly {
    staging: Option<Staging>,
}

impl ListAssembly {
    /// A chunk arrived; `json` is its payload without any signature line. `Ok(true)`: it
    /// starts a new list (the caller empties the staging tables first).
    pub fn chunk(
        &mut self,
        version: u64,
        chunk: u32,
        chunks: u32,
        rules: Option<SiteRules>,
        json: &[u8],
    ) -> Result<bool, AssemblyError> {
        let starts = chunk == 0;
        if starts {
            self.staging = Some(Staging {
                version,
                chunks,
                next: 0,
                checksum: ListChecksum::new(),
                rules: None,
            });
        }
        let Some(s) = self.staging.as_mut() else {
            return Err(AssemblyError::OutOfOrder {
                version,
                got: chunk,
                expected: 0,
            });
        };
        if s.version != version || s.next != chunk || s.chunks != chunks {
            let expected = if s.version == version { s.next } else { 0 };
            self.staging = None;
            return Err(AssemblyError::OutOfOrder {
                version,
                got: chunk,
                expected,
            });
        }
        if starts {
            s.rules = Some(rules.ok_or(AssemblyError::NoRules)?);
        }
        s.checksum.add(json);
        s.next += 1;
        Ok(starts)
    }

    /// The commit: the rules of the whole list when every chunk arrived and the checksum
    /// matches. Either way the staging is over.
    pub fn commit(
        &mut self,
        version: u64,
        chunks: u32,
        sha256: &[u8; 32],
    ) -> Result<SiteRules, AssemblyError> {
        let s = match self.staging.take() {
            Some(s) if s.version == version => s,
            _ => return Err(AssemblyError::NothingStaged { version }),
        };
        if s.next != chunks || s.chunks != chunks {
            return Err(AssemblyError::Incomplete {
                expected: chunks,
                got: s.next,
            });
        }
        if s.checksum.finish() != *sha256 {
            return Err(AssemblyError::ChecksumMismatch);
        }
        s.rules.ok_or(AssemblyError::NoRules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(parts: &[&[u8]]) -> [u8; 32] {
        let mut sum = ListChecksum::new();
        for p in parts {
            sum.add(p);
        }
        sum.finish()
    }

    #[test]
    fn a_list_in_order_with_the_right_checksum_commits() {
        let mut a = ListAssembly::default();
        assert_eq!(a.chunk(7, 0, 2, Some(SiteRules::empty()), b"one"), Ok(true));
        assert_eq!(a.chunk(7, 1, 2, None, b"two"), Ok(false));
        assert!(a.commit(7, 2, &sha(&[b"one", b"two"])).is_ok());
    }

    #[test]
    fn a_missing_chunk_a_stray_chunk_or_a_bad_checksum_is_refused() {
        let mut a = ListAssembly::default();
        a.chunk(7, 0, 3, Some(SiteRules::empty()), b"one").unwrap();
        a.chunk(7, 1, 3, None, b"two").unwrap();
        assert_eq!(
            a.commit(7, 3, &sha(&[b"one", b"two"])),
            Err(AssemblyError::Incomplete {
                expected: 3,
                got: 2
            })
        );
        a.chunk(8, 0, 2, Some(SiteRules::empty()), b"one").unwrap();
        assert!(matches!(
            a.chunk(8, 2, 2, None, b"x"),
            Err(AssemblyError::OutOfOrder { expected: 1, .. })
        ));
        assert!(matches!(
            a.commit(8, 2, &[0; 32]),
            Err(AssemblyError::NothingStaged { .. })
        ));
        a.chunk(9, 0, 1, Some(SiteRules::empty()), b"one").unwrap();
        assert_eq!(
            a.commit(9, 1, &sha(&[b"uno"])),
            Err(AssemblyError::ChecksumMismatch)
        );
    }
}
