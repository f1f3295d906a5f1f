//! The `socket-sim` binary: the first stdout line names the bus, the stdin control channel
//! answers one JSON line per command, and a Modbus client sees the effect.

use std::process::Stdio;

use crate::common::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn control_channel_drives_the_simulator() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socket-sim"))
        .args([
            "--frozen",
            "--exit-on-eof",
            "--tcp",
            "127.0.0.1:0",
            "--profile",
            "generic-socket",
            "--units",
            "1-2",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(TIMEOUT, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };

    let first = next().await;
    let parts: Vec<&str> = first.split(' ').collect();
    assert_eq!(parts[..2], ["tcp", "a"], "{first}");
    let addr = parts[2].parse().unwrap();

    stdin
        .write_all(
            b"{\"bus\":\"a\",\"unit\":2,\"cmd\":\"plug\",\"vehicle_max_a\":16,\"phases\":1}\n",
        )
        .await
        .unwrap();
    assert_eq!(next().await, r#"{"ok":true}"#);
    stdin
        .write_all(b"{\"bus\":\"a\",\"unit\":2,\"cmd\":\"warp\"}\n")
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&next().await).unwrap();
    assert_eq!(v["ok"], false);
    stdin
        .write_all(b"{\"bus\":\"a\",\"unit\":2,\"cmd\":\"truth\"}\n")
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&next().await).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["truth"]["plugged"].clone()),
        (Value::Bool(true), Value::Bool(true))
    );

    let mut c = tcp_client(addr, 2).await;
    assert_eq!(input(&mut c, 0, 1).await, Ok(vec![1]));

    drop(stdin);
    let status = tokio::time::timeout(TIMEOUT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
