//! Roles of local accounts and what each may do. Owns the permission table; never looks at a
//! request or an account's state (active, expiry: `store::accounts::Account::may_log_in`).

use std::fmt;
use std::str::FromStr;

/// A local account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The super user: everything, accounts included.
    Installer,
    /// Sockets, sessions, exports and the dashboard.
    Manager,
    /// Read-only.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Installer, Role::Manager, Role::Viewer];

    /// The name stored and shown (`installer`, `manager`, `viewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Installer => "installer",
            Role::Manager => "manager",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role (installer, manager or viewer)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See states, sessions, the dashboard.
    View,
    /// Stop a session, put a socket out of service or back, start one for a user.
    ControlSockets,
    /// Download exports.
    Export,
    /// Create, change, activate and deactivate accounts.
    ManageAccounts,
    /// Edit the installer's configuration (buses, sockets, profiles).
    InstallerConfig,
    /// Change the uplink settings (central's address, certificates).
    UplinkSettings,
    /// Download a copy of the whole database: it holds every account's password hash and the
    /// access list's tokens, so installers only.
    Backup,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::View,
        Action::ControlSockets,
        Action::Export,
        Action::ManageAccounts,
        Action::InstallerConfig,
        Action::UplinkSettings,
        Action::Backup,
    ];
}

/// Whether `role` may do `action`.
pub fn can(role: Role, action: Action) -> bool {
    match role {
        Role::Installer => true,
        Role::Manager => matches!(
            action,
            Action::View | Action::ControlSockets | Action::Export
        ),
        Role::Viewer => action == Action::View,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installer_may_do_everything() {
        assert!(Action::ALL.into_iter().all(|a| can(Role::Installer, a)));
    }

    #[test]
    fn a_manager_runs_the_site_but_not_its_setup_or_accounts() {
        let allowed: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|&a| can(Role::Manager, a))
            .collect();
        assert_eq!(
            allowed,
            [Action::View, Action::ControlSockets, Action::Export]
        );
    }

    #[test]
    fn a_viewer_only_views() {
        let allowed: Vec<Action> = Action::ALL
            .into_iter()
            .filter(|&a| can(Role::Viewer, a))
            .collect();
        assert_eq!(allowed, [Action::View]);
    }

    #[test]
    fn roles_parse_from_their_names_whatever_the_case() {
        for r in Role::ALL {
            assert_eq!(r.as_str().to_uppercase().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
