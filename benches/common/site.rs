//! A simulated site for the benches that run the whole daemon (`web`, `logs`): `sockets`
//! generic sockets behind one Modbus TCP gateway of socket-sim, and the site's configuration.

use std::path::Path;
use std::time::Duration;

use socket_sim::{Model, Sim, SimOptions, TcpOptions, UnitSpec};

/// The simulator serving the sockets, and the validated configuration that polls them every
/// `poll` (free sockets `s1`..`sN`; `web`: the `[web]` table, e.g. `listen = "127.0.0.1:0"`).
pub async fn start(
    dir: &Path,
    sockets: u8,
    poll: Duration,
    web: &str,
) -> (Sim, sitegate::config::Config) {
    let sim = Sim::new(SimOptions::default()).unwrap();
    let units = (1..=sockets)
        .map(|u| UnitSpec::new(u, Model::GenericSocket))
        .collect();
    let options = TcpOptions {
        one_request_at_a_time: true,
        ..TcpOptions::default()
    };
    let gw = sim
        .serve_tcp("gw", ([127, 0, 0, 1], 0).into(), units, options)
        .await
        .unwrap();
    let mut text = format!(
        "[site]\nid = \"bench\"\nname = \"Bench\"\ntime_zone = \"UTC\"\n[state]\ndirectory = \"state\"\n[web]\n{web}\n[[bus]]\nname = \"gw\"\nkind = \"tcp\"\nhost = \"{}\"\nport = {}\n",
        gw.ip(),
        gw.port()
    );
    let poll = humantime::format_duration(poll);
    for u in 1..=sockets {
        text.push_str(&format!(
            "[[socket]]\nid = \"s{u}\"\nname = \"Socket {u}\"\nbus = \"gw\"\nunit_id = {u}\nprofile = \"generic-socket\"\nfree = true\npoll_interval = \"{poll}\"\n"
        ));
    }
    let config = sitegate::config::parse(&text, dir).unwrap();
    (sim, config)
}
