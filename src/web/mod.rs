//! `web`: the local web page (issue 6). For now only its account and authentication core;
//! the HTTP server and the pages come later and call into `auth`.

pub mod auth;
