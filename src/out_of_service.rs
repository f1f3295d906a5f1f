//! Which sockets a manager took out of service, kept in `out-of-service.json` in the state
//! directory so the choice survives restarts. Written atomically (temporary file, fsync,
//! rename, fsync of the folder): a power cut leaves the old list or the new one, never half.
//! (Moves into the SQLite store when it arrives.)

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

const FILE: &str = "out-of-service.json";

/// The recorded socket ids; an absent or unreadable file means none (and is logged).
pub fn load(state_dir: &Path) -> BTreeSet<String> {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            log::error!(
                "{} is unreadable ({e}); assuming every socket in service",
                path.display()
            );
            BTreeSet::new()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
        Err(e) => {
            log::error!(
                "cannot read {}: {e}; assuming every socket in service",
                path.display()
            );
            BTreeSet::new()
        }
    }
}

pub fn save(state_dir: &Path, ids: &BTreeSet<String>) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let tmp = state_dir.join(format!("{FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(ids)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, state_dir.join(FILE))?;
    std::fs::File::open(state_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_empty());
        let ids: BTreeSet<String> = ["p1".to_string(), "p7".to_string()].into();
        save(dir.path(), &ids).unwrap();
        assert_eq!(load(dir.path()), ids);
    }
}
