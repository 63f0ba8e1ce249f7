package model

// The golden test reads its fixture with internal/checkpoint, which imports
// this package, so it lives in package model_test; these are the helpers it
// shares with the in-package tests.
var (
	TestDevice      = testDevice
	AssertClose     = assertClose
	SumCrossEntropy = sumCrossEntropy
)
