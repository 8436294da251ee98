import SovereignFormats
import SovereignImage

/// How `build`, `inspect` and `verify` show a policy author's approval of
/// a constraint layer: who (the role or office), which version, when, the
/// layer's digest, and the key ids that signed it (whether they count is
/// the trust policy's decision, which `verify` reports).
enum LayerApprovalOutput {
    static func json(_ carried: CarriedLayerApproval) -> JSONValue {
        let approval = carried.approval
        var object: [String: JSONValue] = [
            "envelope": .string(carried.envelopeDigest.prefixed), "layer": .string(approval.layer),
            "version": .string(approval.version), "approver": .string(approval.approver), "approvedOn": .string(approval.approvedOn),
            "digest": .string(approval.layerDigest.prefixed), "keyids": .array(carried.keyids.map(JSONValue.string)),
        ]
        if let previous = approval.previous { object["previous"] = .string(previous.prefixed) }
        return .object(object)
    }

    static func line(_ carried: CarriedLayerApproval) -> String {
        let approval = carried.approval
        let previous = approval.previous.map { ", after \($0.prefixed)" } ?? ""
        return "approval by \(approval.approver) of \(approval.layer) \(approval.version) on \(approval.approvedOn)\(previous), "
            + "signed by \(carried.keyids.isEmpty ? "nobody" : carried.keyids.map { $0.isEmpty ? "(no key id)" : $0 }.joined(separator: ", ")) "
            + "(envelope \(carried.envelopeDigest.prefixed))"
    }
}
