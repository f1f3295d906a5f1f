//! English and French: the language of a request (the user's setting, else Accept-Language)
//! and every text the pages show. One table, so a missing translation is a compile error.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// A text of one page, given in both languages at the call (so none can be missing); the
    /// texts shared by several pages are in `Text`.
    pub fn pick(self, en: &'static str, fr: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Fr => fr,
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The preferred supported language of an Accept-Language header (by q-value, then
    /// order); English when none is supported.
    pub fn negotiate(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::from_code(primary)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

/// Every text of the pages, by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Dashboard,
    Sockets,
    ActiveSockets,
    Users,
    MonthCost,
    HoursOfCharge,
    Energy,
    Uplink,
    Connected,
    Disconnected,
    NoUplink,
    LastSync,
    OutboxDepth,
    AccessListVersion,
    TariffsVersion,
    Never,
    Socket,
    Power,
    Who,
    Cost,
    Live,
    SignIn,
    Username,
    Password,
    SignOut,
    Sessions,
    Access,
    Installer,
    Accounts,
    System,
    Settings,
}

pub fn t(lang: Lang, text: Text) -> &'static str {
    use Text::*;
    match (lang, text) {
        (Lang::En, Dashboard) => "Dashboard",
        (Lang::Fr, Dashboard) => "Tableau de bord",
        (Lang::En, Sockets) => "Sockets",
        (Lang::Fr, Sockets) => "Prises",
        (Lang::En, ActiveSockets) => "Active sockets",
        (Lang::Fr, ActiveSockets) => "Prises actives",
        (Lang::En, Users) => "Users",
        (Lang::Fr, Users) => "Utilisateurs",
        (Lang::En, MonthCost) => "Total cost this month",
        (Lang::Fr, MonthCost) => "Coût total du mois",
        (Lang::En, HoursOfCharge) => "Hours of charge",
        (Lang::Fr, HoursOfCharge) => "Heures de charge",
        (Lang::En, Energy) => "Energy",
        (Lang::Fr, Energy) => "Énergie",
        (Lang::En, Uplink) => "Central server",
        (Lang::Fr, Uplink) => "Serveur central",
        (Lang::En, Connected) => "connected",
        (Lang::Fr, Connected) => "connecté",
        (Lang::En, Disconnected) => "not connected",
        (Lang::Fr, Disconnected) => "non connecté",
        (Lang::En, NoUplink) => "not configured (offline site)",
        (Lang::Fr, NoUplink) => "non configuré (site hors ligne)",
        (Lang::En, LastSync) => "Last sync",
        (Lang::Fr, LastSync) => "Dernière synchronisation",
        (Lang::En, OutboxDepth) => "Events waiting",
        (Lang::Fr, OutboxDepth) => "Événements en attente",
        (Lang::En, AccessListVersion) => "Access list version",
        (Lang::Fr, AccessListVersion) => "Version de la liste d'accès",
        (Lang::En, TariffsVersion) => "Tariffs version",
        (Lang::Fr, TariffsVersion) => "Version des tarifs",
        (Lang::En, Never) => "never",
        (Lang::Fr, Never) => "jamais",
        (Lang::En, Socket) => "Socket",
        (Lang::Fr, Socket) => "Prise",
        (Lang::En, Power) => "Power",
        (Lang::Fr, Power) => "Puissance",
        (Lang::En, Who) => "Who",
        (Lang::Fr, Who) => "Qui",
        (Lang::En, Cost) => "Cost",
        (Lang::Fr, Cost) => "Coût",
        (Lang::En, Live) => "live",
        (Lang::Fr, Live) => "en direct",
        (Lang::En, SignIn) => "Sign in",
        (Lang::Fr, SignIn) => "Se connecter",
        (Lang::En, Username) => "Username",
        (Lang::Fr, Username) => "Identifiant",
        (Lang::En, Password) => "Password",
        (Lang::Fr, Password) => "Mot de passe",
        (Lang::En, SignOut) => "Sign out",
        (Lang::Fr, SignOut) => "Se déconnecter",
        (Lang::En, Sessions) => "Sessions",
        (Lang::Fr, Sessions) => "Sessions",
        (Lang::En, Access) => "Access",
        (Lang::Fr, Access) => "Accès",
        (Lang::En, Installer) => "Installer",
        (Lang::Fr, Installer) => "Installateur",
        (Lang::En, Accounts) => "Accounts",
        (Lang::Fr, Accounts) => "Comptes",
        (Lang::En, System) => "System",
        (Lang::Fr, System) => "Système",
        (Lang::En, Settings) => "My settings",
        (Lang::Fr, Settings) => "Mes réglages",
    }
}

/// A socket state in words, and the CSS class that colours it.
pub fn state_words(
    lang: Lang,
    state: &crate::core::socket_state::SocketState,
) -> (&'static str, &'static str) {
    use crate::core::socket_state::SocketState::*;
    let class = match state {
        Available => "available",
        Occupied | SuspendedEV => "occupied",
        Charging => "charging",
        Faulted { .. } => "faulted",
        Disabled => "disabled",
        NotConnected => "unreachable",
    };
    let words = match (lang, state) {
        (Lang::En, Available) => "Available",
        (Lang::Fr, Available) => "Disponible",
        (Lang::En, Occupied) => "Vehicle plugged in",
        (Lang::Fr, Occupied) => "Véhicule branché",
        (Lang::En, SuspendedEV) => "Vehicle paused charging",
        (Lang::Fr, SuspendedEV) => "Charge suspendue par le véhicule",
        (Lang::En, Charging) => "Charging",
        (Lang::Fr, Charging) => "En charge",
        (Lang::En, Faulted { .. }) => "Fault",
        (Lang::Fr, Faulted { .. }) => "Défaut",
        (Lang::En, Disabled) => "Out of service",
        (Lang::Fr, Disabled) => "Hors service",
        (Lang::En, NotConnected) => "Not reachable",
        (Lang::Fr, NotConnected) => "Injoignable",
    };
    (words, class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Lang::negotiate(Some("fr-FR,fr;q=0.9,en;q=0.8")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("de-DE,en;q=0.5,fr;q=0.7")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("de-DE")), Lang::En);
        assert_eq!(Lang::negotiate(None), Lang::En);
    }
}
