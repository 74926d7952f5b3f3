//! Simulators of the acquirers satang speaks to, for tests and for trying live mode on one machine. They
//! speak the acquirer's real wire protocol, signatures included; nothing in satang knows it is talking to
//! one.

pub mod antom;
