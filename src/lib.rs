//! pyvet audits installed Python trees against what the package manager says
//! should be there.
//!
//! The crate is layered so that each layer can be tested and fuzzed alone:
//! - [`format`](mod@format) parses bytes into typed data (RPM headers, `.pyc` headers,
//!   marshal streams, deb822 stanzas, `ar` archives). No I/O.
//! - [`db`] finds package databases and package files on disk and assembles
//!   them into a [`manifest::Manifest`].
//! - [`cmd`] implements the subcommands on top of both; [`render`] turns their
//!   results into text or JSON. Results are data; rendering is separate.

pub mod audit;
pub mod bytecode;
pub mod check;
pub mod cli;
pub mod cmd;
pub mod db;
pub mod digest;
pub mod error;
pub mod format;
pub mod fsutil;
pub mod image;
pub mod layout;
pub mod limits;
pub mod manifest;
pub mod policy;
pub mod render;
pub mod size;
pub mod subset;
pub mod tree;

pub use error::{Error, Result};

#[cfg(test)]
mod testutil;
pub mod timing;
