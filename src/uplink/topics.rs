//! Topic names of protocol version 1 (docs/mqtt.md): one place builds and parses them.

/// The topic prefix every site topic starts with.
pub fn prefix(site: &str) -> String {
    format!("sitegate/v1/{site}/")
}

/// The topics of one site.
#[derive(Debug, Clone)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(site: &str) -> Topics {
        Topics {
            prefix: prefix(site),
        }
    }

    pub fn up(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn socket_state(&self, socket: &str) -> String {
        format!("{}sockets/{socket}/state", self.prefix)
    }

    pub fn telemetry(&self, socket: &str) -> String {
        format!("{}sockets/{socket}/telemetry", self.prefix)
    }

    /// What the site subscribes to: every down topic, and nothing of another site.
    pub fn subscriptions(&self) -> Vec<String> {
        DOWN.iter().map(|t| format!("{}{t}", self.prefix)).collect()
    }

    /// The down topic name (`ack`, `access/full`, ...) of a full topic of this site.
    #[cfg(test)]
    pub fn down_name<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic
            .strip_prefix(self.prefix.as_str())
            .filter(|name| DOWN.contains(name))
    }
}

/// Down topics, after the prefix.
pub const DOWN: [&str; 8] = [
    "ack",
    "access/full",
    "access/commit",
    "access/diff",
    "tariffs",
    "promotions",
    "config",
    "commands",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_sites_down_topics_are_recognised() {
        let t = Topics::new("garage-7");
        assert_eq!(
            t.down_name("sitegate/v1/garage-7/access/diff"),
            Some("access/diff")
        );
        assert_eq!(t.down_name("sitegate/v1/garage-8/access/diff"), None);
        assert_eq!(t.down_name("sitegate/v1/garage-7/events"), None);
        assert_eq!(
            t.socket_state("p1"),
            "sitegate/v1/garage-7/sockets/p1/state"
        );
    }
}
