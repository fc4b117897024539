//! `defmt::Format` for the public generic types, whose derive would demand
//! `T: defmt::Format` and print the value. Like their `Debug` impls, these
//! print only the variant, so a ring of any item type can be logged.

use ::defmt::{write, Format, Formatter};

use crate::error::{PushError, SubmitError};

impl<T> Format for PushError<T> {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::Full(_) => write!(f, "Full(..)"),
            Self::Busy(_) => write!(f, "Busy(..)"),
        }
    }
}

impl<J> Format for SubmitError<J> {
    fn format(&self, f: Formatter<'_>) {
        match self {
            Self::Full(_) => write!(f, "Full(..)"),
            Self::Busy(_) => write!(f, "Busy(..)"),
            Self::Stopped(_) => write!(f, "Stopped(..)"),
        }
    }
}
