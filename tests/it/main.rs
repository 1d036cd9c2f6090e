//! The quick integration tests, one crate: one link and one process instead of one per
//! file (ripgrep's layout). `cargo test --test it` runs them all, `cargo test --test it
//! lifecycle::` one module. The harnesses `.ci/run` runs on their own (`kernel`,
//! `libvirtd`, `differential`, `upgrade`, `package`) stay separate test targets, and so
//! does `layering`.

mod support;

mod abstraction;
mod degraded;
mod devices;
mod domain_state;
mod escape_batch;
mod helper_profile;
mod hostile_images;
mod hostile_xml;
mod libvirt_suite;
mod lifecycle;
mod man;
mod must_refuse;
mod paths;
mod regression;
mod reload_all;
mod restricted_doc;
mod runtime_grants;
mod storage;
mod store_trust;
