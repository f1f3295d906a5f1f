//! Device profiles as data: a device's registers (table, address, type, word and byte order,
//! scale, unit) and the socket points and controls they provide, in TOML. Built-in profiles for
//! the hardware in `config/profiles/`, and installers' own files. Owns parsing, validation,
//! request planning and decoding; never performs I/O (the caller reads files and buses).

mod builtin;
pub(crate) mod compile;
pub(crate) mod decode;
pub(crate) mod model;
pub(crate) mod plan;
mod raw;
pub(crate) mod register;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

pub use compile::compile_profile;
pub use decode::{Decoded, Value, readings};
pub use model::*;
pub use plan::{PlannedRead, apply, plan_reads};

use crate::problems::Problems;

/// Every profile a site may use: the built-ins and the installer's files, by name.
#[derive(Debug, Clone)]
pub struct ProfileSet {
    profiles: BTreeMap<String, Arc<Profile>>,
}

impl ProfileSet {
    /// The built-in profiles. They are compiled from files shipped in the binary and checked by
    /// tests, so a failure here is a build defect.
    pub fn builtin() -> Self {
        let profiles = builtin::SOURCES
            .iter()
            .map(|(file, text)| {
                let p = compile_profile(text)
                    .unwrap_or_else(|e| panic!("built-in profile {file} is invalid:\n{e}"));
                (p.name.clone(), Arc::new(p))
            })
            .collect();
        ProfileSet { profiles }
    }

    /// Adds a profile compiled from `text` (read from `origin`, named in problems).
    pub fn add(&mut self, origin: &Path, text: &str) -> Result<Arc<Profile>, Problems> {
        let prefix = origin.display().to_string();
        let profile = compile_profile(text).map_err(|p| p.prefixed(&prefix))?;
        if self.profiles.contains_key(&profile.name) {
            let mut problems = Problems::new();
            problems.push(
                format!("{prefix}: profile.name"),
                format!(
                    "`{}` is already defined (built-in or another file)",
                    profile.name
                ),
            );
            return Err(problems);
        }
        let profile = Arc::new(profile);
        self.profiles.insert(profile.name.clone(), profile.clone());
        Ok(profile)
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Profile>> {
        self.profiles.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.profiles.values()
    }
}

#[cfg(test)]
mod tests;
