//! Edits of the configuration file from the installer page: add, change or remove a
//! `[[socket]]`, change the `[uplink]` settings. Owns the text transformation (with `toml_edit`,
//! so comments and layout survive), the validation of the whole candidate file with the real
//! loader before anything is written, and the atomic replacement of the file (temporary file in
//! the same directory, fsync, rename, fsync of the directory; the previous file kept as
//! `<name>.bak`). Never applies a configuration: the supervisor reloads the file afterwards.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use toml_edit::{DocumentMut, Item, Table, value};

use super::Config;
use crate::problems::Problems;

/// A socket as the installer's form gives it: text, checked by the loader (the unit id too,
/// once it is a number).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct SocketForm {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub serial_number: String,
    #[serde(default)]
    pub uid: String,
    pub profile: String,
    pub bus: String,
    pub unit_id: String,
}

/// The `[uplink]` settings the page edits. An empty password keeps the file's.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct UplinkForm {
    pub host: String,
    pub port: String,
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing)]
    pub password: String,
    #[serde(default)]
    pub ca_file: String,
    #[serde(default)]
    pub client_cert_file: String,
    #[serde(default)]
    pub client_key_file: String,
}

/// Why an edit was refused; callers show field errors next to their fields.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Problems by form field (`""`: not tied to one field), in the loader's words.
    #[error("the edit was refused: {}", .0.values().flatten().cloned().collect::<Vec<_>>().join("; "))]
    Refused(BTreeMap<String, Vec<String>>),
    #[error("no socket `{0}` in the configuration file")]
    UnknownSocket(String),
    #[error("the configuration file is not valid TOML: {0}")]
    Unparsable(String),
    #[error("cannot read or write the configuration file: {0}")]
    Io(#[from] std::io::Error),
}

impl EditError {
    fn field(field: &str, message: impl Into<String>) -> EditError {
        EditError::Refused(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
}

/// The configuration file, edited one change at a time.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    /// One edit at a time: each reads, transforms and replaces the whole file.
    lock: Mutex<()>,
}

impl ConfigFile {
    pub fn new(path: PathBuf) -> ConfigFile {
        ConfigFile {
            path,
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> Result<String, EditError> {
        Ok(std::fs::read_to_string(&self.path)?)
    }

    /// Reads the file, lets `change` transform its text, validates the result with the loader
    /// (problems under `socket[index]` or `uplink` are mapped to form fields) and replaces the
    /// file atomically. Blocking: run it off the async threads.
    pub fn edit(
        &self,
        change: impl FnOnce(&str) -> Result<Candidate, EditError>,
    ) -> Result<Config, EditError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let text = self.read()?;
        let candidate = change(&text)?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        let config = super::parse(&candidate.text, base)
            .map_err(|p| EditError::Refused(by_field(&p, &candidate.prefix)))?;
        write_atomically(&self.path, &candidate.text)?;
        Ok(config)
    }
}

/// A transformed file, and the key path whose problems belong to the form's fields.
pub struct Candidate {
    pub text: String,
    pub prefix: String,
}

fn document(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>()
        .map_err(|e| EditError::Unparsable(e.to_string()))
}

fn sockets(doc: &mut DocumentMut) -> &mut toml_edit::ArrayOfTables {
    if !doc.contains_array_of_tables("socket") {
        doc.insert("socket", Item::ArrayOfTables(Default::default()));
    }
    doc["socket"]
        .as_array_of_tables_mut()
        .expect("checked above")
}

fn position(doc: &DocumentMut, id: &str) -> Option<usize> {
    doc.get("socket")?
        .as_array_of_tables()?
        .iter()
        .position(|t| t.get("id").and_then(Item::as_str) == Some(id))
}

/// The unit id as a number (the loader checks its range).
fn unit_id(form: &SocketForm) -> Result<i64, EditError> {
    form.unit_id
        .trim()
        .parse()
        .map_err(|_| EditError::field("unit_id", format!("`{}` is not a number", form.unit_id)))
}

/// Sets the form's keys on a socket table, keeping the keys the form does not show.
fn fill(table: &mut Table, form: &SocketForm, unit: i64) {
    table.insert("id", value(form.id.trim()));
    table.insert("name", value(form.name.trim()));
    for (key, text) in [("serial_number", &form.serial_number), ("uid", &form.uid)] {
        if text.trim().is_empty() {
            table.remove(key);
        } else {
            table.insert(key, value(text.trim()));
        }
    }
    table.insert("bus", value(form.bus.trim()));
    table.insert("unit_id", value(unit));
    table.insert("profile", value(form.profile.trim()));
}

/// A new `[[socket]]` at the end of the file.
pub fn add_socket(text: &str, form: &SocketForm) -> Result<Candidate, EditError> {
    let mut doc = document(text)?;
    let unit = unit_id(form)?;
    if position(&doc, form.id.trim()).is_some() {
        return Err(EditError::field(
            "id",
            format!("`{}` is already the id of another socket", form.id.trim()),
        ));
    }
    let list = sockets(&mut doc);
    let mut table = Table::new();
    fill(&mut table, form, unit);
    list.push(table);
    let index = list.len() - 1;
    Ok(Candidate {
        text: doc.to_string(),
        prefix: format!("socket[{index}]"),
    })
}

/// Changes the socket `id` (its other keys, such as a relay, stay).
pub fn edit_socket(text: &str, id: &str, form: &SocketForm) -> Result<Candidate, EditError> {
    let mut doc = document(text)?;
    let unit = unit_id(form)?;
    let index = position(&doc, id).ok_or_else(|| EditError::UnknownSocket(id.into()))?;
    if form.id.trim() != id && position(&doc, form.id.trim()).is_some() {
        return Err(EditError::field(
            "id",
            format!("`{}` is already the id of another socket", form.id.trim()),
        ));
    }
    let table = sockets(&mut doc).get_mut(index).expect("position found it");
    fill(table, form, unit);
    Ok(Candidate {
        text: doc.to_string(),
        prefix: format!("socket[{index}]"),
    })
}

/// Removes the socket `id` (whether a session runs on it is the caller's check).
pub fn remove_socket(text: &str, id: &str) -> Result<Candidate, EditError> {
    let mut doc = document(text)?;
    let index = position(&doc, id).ok_or_else(|| EditError::UnknownSocket(id.into()))?;
    sockets(&mut doc).remove(index);
    Ok(Candidate {
        text: doc.to_string(),
        prefix: String::new(),
    })
}

/// The `[uplink]` settings as the file has them (password left out), for the form.
pub fn uplink_form(text: &str) -> Option<UplinkForm> {
    let doc = text.parse::<DocumentMut>().ok()?;
    let up = doc.get("uplink")?.as_table_like()?;
    let text = |key: &str| {
        up.get(key)
            .and_then(|i| {
                i.as_str()
                    .map(str::to_string)
                    .or_else(|| i.as_integer().map(|n| n.to_string()))
            })
            .unwrap_or_default()
    };
    Some(UplinkForm {
        host: text("host"),
        port: text("port"),
        username: text("username"),
        password: String::new(),
        ca_file: text("ca_file"),
        client_cert_file: text("client_cert_file"),
        client_key_file: text("client_key_file"),
    })
}

/// Sets the `[uplink]` connection settings (the section is created when absent); empty
/// optional fields remove their key, an empty password keeps the file's.
pub fn set_uplink(text: &str, form: &UplinkForm) -> Result<Candidate, EditError> {
    let mut doc = document(text)?;
    let port: i64 = form
        .port
        .trim()
        .parse()
        .map_err(|_| EditError::field("port", format!("`{}` is not a number", form.port)))?;
    if !doc.contains_table("uplink") {
        doc.insert("uplink", Item::Table(Table::new()));
    }
    let up = doc["uplink"].as_table_mut().expect("a table");
    up.insert("host", value(form.host.trim()));
    up.insert("port", value(port));
    for (key, text) in [
        ("username", &form.username),
        ("ca_file", &form.ca_file),
        ("client_cert_file", &form.client_cert_file),
        ("client_key_file", &form.client_key_file),
    ] {
        if text.trim().is_empty() {
            up.remove(key);
        } else {
            up.insert(key, value(text.trim()));
        }
    }
    if form.username.trim().is_empty() {
        up.remove("password");
    } else if !form.password.is_empty() {
        up.insert("password", value(form.password.as_str()));
    }
    Ok(Candidate {
        text: doc.to_string(),
        prefix: "uplink".into(),
    })
}

/// The loader's problems by form field: those at `prefix.FIELD` (or naming `prefix` as the
/// first holder of a taken id or unit) go to FIELD, the rest to `""`.
fn by_field(problems: &Problems, prefix: &str) -> BTreeMap<String, Vec<String>> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in problems.iter() {
        let (key, field) = match p.path.rsplit_once('.') {
            Some((key, field)) => (key, field),
            None => (p.path.as_str(), ""),
        };
        let ours =
            !prefix.is_empty() && (key == prefix || p.message.ends_with(&format!(" {prefix}")));
        let field = if ours { field } else { "" };
        let message = if ours {
            p.message.clone()
        } else {
            p.to_string()
        };
        fields.entry(field.to_string()).or_default().push(message);
    }
    fields
}

/// Replaces `path` with `text` so that a crash leaves the old file or the new one, never a
/// mix: a temporary file in the same directory, synced, renamed over, the directory synced.
/// The previous file is kept as `<name>.bak`.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sitegate.toml".into());
    let temp = dir.join(format!(".{name}.new"));
    {
        let mut file = std::fs::File::create(&temp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            // The file may hold the uplink's password: the copy keeps the original's mode.
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    if path.exists() {
        let backup = dir.join(format!("{name}.bak"));
        std::fs::copy(path, &backup)?;
        std::fs::File::open(&backup)?.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# the site\n[site]\nid = \"t\" # inline\nname = \"T\"\ntime_zone = \"UTC\"\n\n[[bus]]\nname = \"gw\"\nkind = \"tcp\"\nhost = \"127.0.0.1\"\nport = 502\n\n# the first socket\n[[socket]]\nid = \"a\"\nname = \"A\"\nbus = \"gw\"\nunit_id = 1\nprofile = \"generic-socket\"\n";

    fn form(id: &str, unit: &str) -> SocketForm {
        SocketForm {
            id: id.into(),
            name: format!("Socket {id}"),
            serial_number: "SN1".into(),
            uid: String::new(),
            profile: "generic-socket".into(),
            bus: "gw".into(),
            unit_id: unit.into(),
        }
    }

    #[test]
    fn an_added_socket_keeps_the_comments_and_validates() {
        let c = add_socket(FILE, &form("b", "2")).unwrap();
        assert!(c.text.contains("# the first socket") && c.text.contains("# inline"));
        let config = super::super::parse(&c.text, Path::new(".")).unwrap();
        assert_eq!(config.sockets.len(), 2);
        assert_eq!(config.sockets[1].serial_number.as_deref(), Some("SN1"));
    }

    #[test]
    fn problems_of_the_edited_socket_go_to_its_fields() {
        let c = add_socket(FILE, &form("b", "300")).unwrap();
        let problems = super::super::parse(&c.text, Path::new(".")).unwrap_err();
        let fields = by_field(&problems, &c.prefix);
        assert!(fields["unit_id"][0].contains("300"), "{fields:?}");
        let c = add_socket(FILE, &form("b", "1")).unwrap();
        let problems = super::super::parse(&c.text, Path::new(".")).unwrap_err();
        assert!(by_field(&problems, &c.prefix).contains_key("unit_id"));
        assert!(
            matches!(add_socket(FILE, &form("a", "2")), Err(EditError::Refused(f)) if f.contains_key("id"))
        );
        assert!(
            matches!(add_socket(FILE, &form("b", "x")), Err(EditError::Refused(f)) if f.contains_key("unit_id"))
        );
    }

    #[test]
    fn edit_and_remove_find_the_socket_by_id() {
        let c = edit_socket(FILE, "a", &form("a", "5")).unwrap();
        assert!(c.text.contains("unit_id = 5") && c.text.contains("# the first socket"));
        let c = remove_socket(FILE, "a").unwrap();
        assert!(!c.text.contains("id = \"a\""));
        assert!(matches!(
            remove_socket(FILE, "zz"),
            Err(EditError::UnknownSocket(_))
        ));
    }

    #[test]
    fn uplink_settings_are_set_and_read_back() {
        let up = UplinkForm {
            host: "central.example".into(),
            port: "8883".into(),
            username: "site".into(),
            password: "secret".into(),
            ..Default::default()
        };
        let c = set_uplink(FILE, &up).unwrap();
        let back = uplink_form(&c.text).unwrap();
        assert_eq!(back.host, "central.example");
        assert_eq!(back.port, "8883");
        assert!(back.password.is_empty());
        assert!(c.text.contains("password = \"secret\""));
    }

    #[test]
    fn the_file_is_replaced_and_the_previous_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sitegate.toml");
        std::fs::write(&path, "old").unwrap();
        write_atomically(&path, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sitegate.toml.bak")).unwrap(),
            "old"
        );
    }
}
