pub mod delivery;
pub mod assembly;
pub mod topics;
pub mod up;
pub mod tls;
