//! socket-sim
