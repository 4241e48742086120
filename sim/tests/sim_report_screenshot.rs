//! The HTML report as a person sees it: a failing run's report rendered by headless Chromium,
//! and the screenshot's pixels checked for what the page must show (the anomaly in red,
//! acknowledged operations in green, the faults in purple), not just for well-formed markup.
//!
//! `scripts/test-all.sh` installs `chromium-headless-shell` (Debian) when it can; without a
//! browser the test says so and passes, unless `CI` is set, where a missing browser fails it.
#![cfg(madsim)]

use dynasim_sim::run::{Bug, RunOptions, repro_command, run};
use dynasim_sim::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::process::Command;

const RED: [u8; 3] = [0xd6, 0x27, 0x28];
const GREEN: [u8; 3] = [0x2c, 0xa0, 0x2c];
const PURPLE: [u8; 3] = [0xc9, 0xb3, 0xe6];

fn browser() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("DYNASIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let names = ["chromium-headless-shell", "chromium", "google-chrome"];
    let path = std::env::var("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Pixels of `png` that have exactly `color`, and the image's size.
fn count(png: &Path, colors: &[[u8; 3]]) -> (Vec<usize>, u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "an RGB screenshot ({:?})", info.color_type);
    let pixels = &buf[..info.buffer_size()];
    let counts = colors
        .iter()
        .map(|c| {
            pixels
                .chunks_exact(channels)
                .filter(|p| p[..3] == c[..])
                .count()
        })
        .collect();
    (counts, info.width, info.height)
}

#[test]
fn a_failing_runs_report_renders_its_anomaly_in_chromium() {
    let Some(chromium) = browser() else {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs headless Chromium (scripts/test-all.sh installs chromium-headless-shell)"
        );
        eprintln!("skipped: no headless Chromium on PATH (set DYNASIM_CHROMIUM)");
        return;
    };
    let path = "scenarios/ci/scans-under-splits.toml";
    let scenario = Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path))
        .expect("the scenario loads");
    let record = (0..3)
        .map(|seed| {
            run(
                &scenario,
                RunOptions {
                    seed,
                    bug: Some(Bug::SplitDropsItem),
                    ..RunOptions::default()
                },
            )
        })
        .find(|r| !r.passed)
        .expect("the broken split is caught within three seeds");
    let repro = repro_command(path, &record);
    let view = dynasim_sim::report::view(&scenario, &record, &repro);
    let dir = std::env::temp_dir().join(format!("dynasim-screenshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let shot = dir.join("report.png");
    std::fs::write(&page, dynasim_reports::html(&view)).unwrap();
    let status = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1280,2000",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts");
    assert!(
        shot.is_file(),
        "chromium wrote no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (counts, width, height) = count(&shot, &[RED, GREEN, PURPLE]);
    assert_eq!((width, height), (1280, 2000));
    let [red, green, purple] = counts[..] else {
        unreachable!()
    };
    eprintln!(
        "screenshot {}: red {red}, green {green}, purple {purple}",
        shot.display()
    );
    // The anomaly box's border, the "failed" heading and the anomaly's operations are red;
    // acknowledged operations green; the split and crash faults purple.
    assert!(red > 500, "the anomaly is drawn in red ({red} pixels)");
    assert!(
        green > 500,
        "acknowledged operations are drawn ({green} pixels)"
    );
    assert!(purple > 200, "the faults are drawn ({purple} pixels)");
    let _ = std::fs::remove_dir_all(&dir);
}
