// The steering runtime's tests.
