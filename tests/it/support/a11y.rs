//! Basic accessibility checks run in the page by `Browser`: form controls have labels, text has
//! enough contrast (WCAG 2.2, 1.4.3: 4.5:1, 3:1 for large text), and the interactive elements
//! are reached by the keyboard in the expected order with a visible focus indicator.
//!
//! Each check returns the problems it found (empty: passed), so a test can assert both that a
//! good page passes and that a bad fixture is caught; `assert_accessible` runs the three.
//! They are checks, not an audit: they see what the DOM and computed styles say, not what a
//! screen reader announces, and contrast over background images is reported as unchecked.

use std::fmt;

use fantoccini::key::Key;
use serde::Deserialize;
use serde_json::json;

use super::browser::{Browser, DESCRIBE};

/// A text whose contrast with its background is below the WCAG minimum.
#[derive(Debug, Clone, Deserialize)]
pub struct ContrastIssue {
    /// `tag#id.class` and the start of its text.
    pub element: String,
    /// The contrast ratio found, or `None` when the background could not be determined (an
    /// image or gradient behind the text).
    pub ratio: Option<f64>,
    /// 4.5, or 3 for large text.
    pub required: f64,
    /// The text colour and the effective background, as `rgb(r, g, b)`.
    pub foreground: String,
    pub background: String,
    pub font_size_px: f64,
}

impl fmt::Display for ContrastIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ratio {
            Some(r) => write!(
                f,
                "{}: contrast {r:.2}:1 < {}:1 ({} on {}, {}px)",
                self.element, self.required, self.foreground, self.background, self.font_size_px
            ),
            None => write!(
                f,
                "{}: contrast unchecked (background image or gradient)",
                self.element
            ),
        }
    }
}

impl Browser {
    /// Form controls (input, select, textarea) without a label — `<label for>` or wrapping
    /// label with text, `aria-label`, or `aria-labelledby` naming elements with text — and
    /// buttons or links without an accessible name. Hidden elements are not checked.
    pub async fn check_labels(&self) -> Vec<String> {
        let found = self.execute(&format!("{DESCRIBE}\n{CHECK_LABELS}")).await;
        serde_json::from_value(found).expect("label check result")
    }

    /// Visible texts (including form controls' values) whose contrast with their effective
    /// background (the background colours of the element and its ancestors composited over
    /// white) is below 4.5:1, or 3:1 for large text (24px, or 18.66px bold). Disabled controls
    /// are exempt (WCAG). Backgrounds that are images or gradients are reported with no ratio.
    pub async fn check_contrast(&self) -> Vec<ContrastIssue> {
        let found = self.execute(&format!("{DESCRIBE}\n{CHECK_CONTRAST}")).await;
        serde_json::from_value(found).expect("contrast check result")
    }

    /// Presses Tab once per selector in `expected`, from the top of the page, and checks that
    /// focus lands on an element matching each selector in turn, and that the focused element
    /// shows a focus indicator (an outline or a box shadow). Returns the problems, each naming
    /// where focus actually was.
    pub async fn check_keyboard(&self, expected: &[&str]) -> Vec<String> {
        // Start before the first focusable element: a temporary, unfocusable-by-Tab element
        // at the start of the body holds focus, so the first Tab goes to the page's first stop.
        self.execute(
            "const s = document.createElement('span'); s.id = '__a11y_start'; s.tabIndex = -1;\
             document.body.prepend(s); s.focus();",
        )
        .await;
        let mut problems = Vec::new();
        for (i, selector) in expected.iter().enumerate() {
            self.press(Key::Tab).await;
            if i == 0 {
                self.execute("document.getElementById('__a11y_start')?.remove();")
                    .await;
            }
            let state = self
                .execute_with(&format!("{DESCRIBE}\n{FOCUS_STATE}"), vec![json!(selector)])
                .await;
            let focused = state["focused"].as_str().unwrap_or("?").to_string();
            if state["matches"] != json!(true) {
                problems.push(format!(
                    "Tab {}: expected focus on `{selector}`, found it on {focused}",
                    i + 1
                ));
            } else if state["indicator"] != json!(true) {
                problems.push(format!(
                    "Tab {}: {focused} has focus but no visible focus indicator (outline or box-shadow)",
                    i + 1
                ));
            }
        }
        self.execute("document.getElementById('__a11y_start')?.remove();")
            .await;
        problems
    }

    /// Runs the three checks and fails the test listing every problem.
    pub async fn assert_accessible(&self, focus_order: &[&str]) {
        let labels = self.check_labels().await;
        let contrast = self.check_contrast().await;
        let keyboard = self.check_keyboard(focus_order).await;
        if labels.is_empty() && contrast.is_empty() && keyboard.is_empty() {
            return;
        }
        let mut report = format!("accessibility problems on {}:\n", self.current_url().await);
        for l in labels {
            report += &format!("  unlabeled: {l}\n");
        }
        for c in contrast {
            report += &format!("  {c}\n");
        }
        for k in keyboard {
            report += &format!("  keyboard: {k}\n");
        }
        panic!("{report}");
    }
}

const CHECK_LABELS: &str = r#"
const norm = s => (s || '').trim().replace(/\s+/g, ' ');
const visible = el => el.checkVisibility({visibilityProperty: true});
const byIds = ids => norm((ids || '').split(/\s+/).filter(Boolean)
  .map(id => (document.getElementById(id) || {}).textContent || '').join(' '));
const out = [];
for (const el of document.querySelectorAll('input, select, textarea')) {
  const type = (el.getAttribute('type') || 'text').toLowerCase();
  if (el.tagName === 'INPUT' && ['hidden', 'submit', 'reset', 'button', 'image'].includes(type)) continue;
  if (!visible(el)) continue;
  const named = [...(el.labels || [])].some(l => norm(l.textContent))
    || norm(el.getAttribute('aria-label')) || byIds(el.getAttribute('aria-labelledby'));
  if (!named) out.push('form control without a label: ' + describe(el));
}
for (const el of document.querySelectorAll('button, a[href], input[type=button], input[type=image], [role=button], [role=link]')) {
  if (!visible(el)) continue;
  const imgAlt = [...el.querySelectorAll('img[alt]')].map(i => i.alt).join(' ');
  const named = norm(el.innerText) || norm(el.getAttribute('aria-label'))
    || byIds(el.getAttribute('aria-labelledby')) || norm(imgAlt) || norm(el.getAttribute('title'))
    || (el.tagName === 'INPUT' && (norm(el.value) || norm(el.getAttribute('alt'))));
  if (!named) out.push('button or link without a name: ' + describe(el));
}
return out;
"#;

const CHECK_CONTRAST: &str = r#"
const canvas = document.createElement('canvas');
canvas.width = canvas.height = 1;
const ctx = canvas.getContext('2d', {willReadFrequently: true});
// Any CSS colour (rgb, hex, hsl, oklch, color-mix...) to sRGB bytes and alpha, by painting it.
const rgba = c => {
  ctx.clearRect(0, 0, 1, 1);
  ctx.fillStyle = 'rgba(0, 0, 0, 0)';
  ctx.fillStyle = c;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
};
const over = (top, bottom) => {
  const a = top[3];
  return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]);
};
const background = el => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const cs = getComputedStyle(e);
    if (cs.backgroundImage && cs.backgroundImage !== 'none') return null;
    const c = rgba(cs.backgroundColor);
    if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [255, 255, 255, 1];
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
};
const lum = c => {
  const [r, g, b] = c.slice(0, 3).map(v => {
    v /= 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const css = c => 'rgb(' + c.slice(0, 3).map(Math.round).join(', ') + ')';
const out = [];
for (const el of document.body.querySelectorAll('*')) {
  if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION'].includes(el.tagName)) continue;
  const control = ['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName);
  if (control && (el.type === 'hidden' || !el.value)) continue;
  const hasText = control || [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!hasText) continue;
  if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
  if (el.closest(':disabled')) continue;
  const cs = getComputedStyle(el);
  const size = parseFloat(cs.fontSize);
  const bold = parseInt(cs.fontWeight, 10) >= 700;
  const required = (size >= 24 || (size >= 18.66 && bold)) ? 3 : 4.5;
  const bg = background(el);
  if (!bg) {
    out.push({element: describe(el), ratio: null, required, foreground: css(rgba(cs.color)),
              background: 'image', font_size_px: size});
    continue;
  }
  const fg = over(rgba(cs.color), bg);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  if (ratio < required - 1e-9) {
    out.push({element: describe(el), ratio: Math.round(ratio * 100) / 100, required,
              foreground: css(fg), background: css(bg), font_size_px: size});
  }
}
return out;
"#;

const FOCUS_STATE: &str = r#"
const el = document.activeElement;
const cs = el ? getComputedStyle(el) : null;
const indicator = !!cs && ((cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0)
  || (cs.boxShadow && cs.boxShadow !== 'none'));
let matches = false;
try { matches = !!el && el.matches(arguments[0]); } catch (e) {}
return {focused: describe(el), matches, indicator};
"#;
