import Testing
@testable import SovereignHTTP
