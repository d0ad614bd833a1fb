//! How the window presents itself: as Vigil, or, in discreet mode, as a neutral "Notes" with a
//! plain icon (a sheet of paper), so that a glance at the screen or the task bar gives nothing
//! away. The shell applies it at start and when the setting changes.

use crate::{Language, Session};

/// The window's title and, in discreet mode, its icon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowLook {
    /// The window title.
    pub title: &'static str,
    /// Discreet mode's icon, as RGBA pixels with its side in pixels (`None`: the app's own).
    pub icon: Option<(Vec<u8>, u32)>,
}

/// The side of the discreet icon, in pixels.
pub const DISCREET_ICON_SIDE: u32 = 64;

impl Session {
    /// The look the settings ask for.
    pub fn window_look(&self) -> WindowLook {
        let settings = self.settings();
        if !settings.discreet {
            return WindowLook {
                title: "Vigil",
                icon: None,
            };
        }
        let title = match settings.language {
            Language::En => "Notes",
            Language::Ru => "Заметки",
            Language::Ky => "Эскертмелер",
        };
        WindowLook {
            title,
            icon: Some((paper_icon(DISCREET_ICON_SIDE), DISCREET_ICON_SIDE)),
        }
    }
}

/// A light-grey sheet of paper with a folded corner and four ruled lines.
fn paper_icon(side: u32) -> Vec<u8> {
    let n = side as usize;
    let mut px = vec![0u8; n * n * 4];
    let (left, right, top, bottom) = (n * 3 / 16, n * 13 / 16, n / 16, n * 15 / 16);
    let fold = n / 5;
    for y in 0..n {
        for x in 0..n {
            let inside = x >= left && x < right && y >= top && y < bottom;
            // The folded corner, top right.
            let cut = x + top + fold >= right + y && inside;
            let colour: Option<[u8; 3]> = if !inside {
                None
            } else if cut {
                (x + top + fold <= right + y + 1).then_some([0x9a, 0x9a, 0x9a])
            } else if x == left || x + 1 == right || y == top || y + 1 == bottom {
                Some([0x8a, 0x8a, 0x8a])
            } else if (1..=4).any(|k| y == top + k * (bottom - top) / 5)
                && x > left + 3
                && x + 4 < right
            {
                Some([0xb8, 0xc4, 0xd0])
            } else {
                Some([0xf4, 0xf4, 0xf2])
            };
            if let Some([r, g, b]) = colour {
                let i = (y * n + x) * 4;
                px[i..i + 4].copy_from_slice(&[r, g, b, 0xff]);
            }
        }
    }
    px
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use vigil_crypto::kdf::KdfParams;
    use vigil_store::KdfChoice;

    use super::*;
    use crate::session::testing::clock;

    #[test]
    fn discreet_mode_names_the_window_notes_in_its_language_with_a_plain_icon() {
        let tmp = tempfile::tempdir().unwrap();
        let s = Session::new(
            tmp.path().join("v"),
            clock(),
            KdfChoice::Params(KdfParams::FLOOR),
            None,
        );
        assert_eq!(
            s.window_look(),
            WindowLook {
                title: "Vigil",
                icon: None
            }
        );
        let mut settings = s.settings();
        settings.discreet = true;
        settings.language = Language::Ru;
        s.save_settings(settings).unwrap();
        let look = s.window_look();
        assert_eq!(look.title, "Заметки");
        let (rgba, side) = look.icon.unwrap();
        assert_eq!(rgba.len(), (side * side * 4) as usize);
        assert!(rgba.chunks(4).any(|p| p[3] == 0xff), "the sheet is drawn");
    }
}
