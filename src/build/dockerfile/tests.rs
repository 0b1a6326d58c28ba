use super::*;

#[test]
fn minimal() {
    let df = parse("FROM alpine\nRUN true\n", "Dockerfile").unwrap();
    assert_eq!(df.stages.len(), 1);
    assert_eq!(df.stages[0].base, "alpine");
}
