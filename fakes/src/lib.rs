//! Local fakes of the SaaS APIs the cold path calls, for tests and
//! benchmarks: Linear's GraphQL API, Jira Cloud's REST API v3, OpenAI's
//! Chat Completions and Anthropic's Messages API. Each follows its
//! provider's documented request and reply shapes, errors included (see
//! each module), and checks what it is sent as strictly as the provider
//! would: the fake Linear validates every GraphQL document and its
//! variables against Linear's public schema, the fake Jira every field and
//! ADF document, the fake models their structured-output requests.
//!
//! A fake runs on its own thread and runtime, so synchronous tests can use
//! it; it records what it received, and can be told to fail the next
//! requests the ways its provider does (rate limits, 5xx, slowness), or to
//! hold a create's answer until released (to kill a client in between).
//!
//! - [`Linear`], [`Jira`], [`Model`] (OpenAI or Anthropic): the fakes.
//! - [`Fault`]: scripted failures.
//! - `server`: the HTTP plumbing they share.

mod adf;
mod anthropic;
mod graphql;
mod jira;
mod linear;
mod model;
mod openai;
mod server;

pub use adf::check_adf;
pub use jira::{Jira, JiraIssue};
pub use linear::{linear_schema_path, Linear, LinearIssue};
pub use model::{Model, ModelAnswer};
pub use server::{Fault, Reply};
