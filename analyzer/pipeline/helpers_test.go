package pipeline

// pcapDir holds the committed captures the tests read.
const pcapDir = "../../testdata/pcaps"

// version is the build version the tests give the metrics server.
const version = "dev"
