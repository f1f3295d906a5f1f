//! `sitegate backup` and `sitegate restore`: load the configuration to find the database, then
//! `store::backup` does the work. Owns the arguments, the messages and the exit codes; never
//! touches the database in any other way.

use std::path::{Path, PathBuf};

use crate::config;
use crate::store::backup::{self, BackupError};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[arg(long, default_value = "/etc/sitegate/sitegate.toml")]
    pub config: PathBuf,
    /// The backup file to write, or a directory to write `sitegate-<site>-<UTC time>.sqlite3`
    /// into.
    pub dest: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[arg(long, default_value = "/etc/sitegate/sitegate.toml")]
    pub config: PathBuf,
    /// The backup to restore (a file `sitegate backup` or the system page made).
    pub src: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{path}: invalid configuration:\n{problems}")]
    Config { path: String, problems: String },
    #[error(transparent)]
    Backup(#[from] BackupError),
}

impl CliError {
    /// 64: the configuration; 65: the backup file is refused; 75: the database is in use (try
    /// again once the daemon is stopped); 1: anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config { .. } => 64,
            CliError::Backup(
                BackupError::NotOurs { .. }
                | BackupError::Damaged { .. }
                | BackupError::UnknownVersion { .. },
            ) => 65,
            CliError::Backup(BackupError::InUse(_)) => 75,
            CliError::Backup(_) => 1,
        }
    }
}

fn database(config_path: &Path) -> Result<(PathBuf, String), CliError> {
    let config = config::load(config_path).map_err(|problems| CliError::Config {
        path: config_path.display().to_string(),
        problems: problems.to_string(),
    })?;
    Ok((config.state_dir.join(crate::store::DB_FILE), config.site.id))
}

/// Takes the backup (online: the daemon may run); returns the file written.
pub fn run_backup(args: &BackupArgs) -> Result<PathBuf, CliError> {
    let (db, site) = database(&args.config)?;
    let dest = if args.dest.is_dir() {
        args.dest
            .join(backup::file_name(&site, crate::clock::wall_utc()))
    } else {
        args.dest.clone()
    };
    backup::backup(&db, &dest)?;
    Ok(dest)
}

/// Restores (the daemon stopped); returns what was done, for the message.
pub fn run_restore(args: &RestoreArgs) -> Result<String, CliError> {
    let (db, _) = database(&args.config)?;
    let restored = backup::restore(&db, &args.src)?;
    let kept = restored.kept.map_or_else(
        || "there was no database before".to_string(),
        |k| format!("the previous database is kept as {}", k.display()),
    );
    Ok(format!(
        "restored {} (schema version {}) into {}; {kept}. Start the daemon: it migrates the database if needed and resends what central has not acknowledged.",
        args.src.display(),
        restored.version,
        db.display()
    ))
}
