//! Nothing of the simulator runs in a real node: its source uses the simulator's crate only for
//! the settings (names, defaults, checks) and the event schema, never the simulation, its
//! network, its timeline or its observer.

#[test]
fn a_node_uses_the_simulators_crate_only_for_settings_and_the_event_schema() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let allowed = [
        "converge::Settings",
        "converge::SettingsPatch",
        "converge::settings::",
        "converge::trace::",
    ];
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for forbidden in ["Simulation", "Timeline", "Network", "Observer"] {
                assert!(
                    !code.contains(forbidden),
                    "{}:{}: {line}",
                    path.display(),
                    n + 1
                );
            }
            let mut rest = code;
            while let Some(at) = rest.find("converge::") {
                let used = &rest[at..];
                assert!(
                    allowed.iter().any(|a| used.starts_with(a)),
                    "{}:{}: uses {used}",
                    path.display(),
                    n + 1
                );
                rest = &rest[at + "converge::".len()..];
            }
        }
        checked += 1;
    }
    assert!(checked >= 7, "read {checked} files");
}
