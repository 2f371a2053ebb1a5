//! Helpers shared by several test files (`mod common;`); each file uses a part of them.
#![allow(dead_code)]

pub mod smart;
