//! The built-in profiles' sources, embedded in the binary (sites are offline; the package also
//! installs them under /usr/share/sitegate/profiles for reference).

pub const SOURCES: &[(&str, &str)] = &[
    (
        "generic-socket.toml",
        include_str!("../../config/profiles/generic-socket.toml"),
    ),
    (
        "generic-relay.toml",
        include_str!("../../config/profiles/generic-relay.toml"),
    ),
    (
        "eastron-sdm630.toml",
        include_str!("../../config/profiles/eastron-sdm630.toml"),
    ),
    (
        "abb-terra-ac.toml",
        include_str!("../../config/profiles/abb-terra-ac.toml"),
    ),
    (
        "alfen-ng9xx.toml",
        include_str!("../../config/profiles/alfen-ng9xx.toml"),
    ),
];
