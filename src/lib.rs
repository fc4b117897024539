#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(feature = "alloc")]
extern crate alloc;

mod error;
mod loom;
pub mod ring;
mod slot;

pub use crate::{
    error::{PopError, PushError},
    ring::Ring,
};
