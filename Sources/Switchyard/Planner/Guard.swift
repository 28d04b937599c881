import Synchronization

/// Checks everything that leaves the machine against what the run holds.
///
/// Three rules: content never goes to a destination cleared for less than its labels; a
/// sender that can read the workspace itself (a networked shell command) may reach a
/// destination cleared for less than the workspace only if the spec allows exfiltration;
/// and once a run holds private data *and* has read untrusted content (the "lethal
/// trifecta" with an exfiltration-capable action), HTTP requests, networked shell commands
/// and MCP calls to a destination cleared for less than it holds are refused unless the spec
/// allows exfiltration. Every decision is kept for `audit`.
public final class RunGuard: Sendable {
    public struct Decision: Sendable, Hashable {
        public var egress: Egress
        /// The labels of what the egress carries.
        public var labels: Labels
        public var destinationClearance: Confidentiality
        /// What the sender can read on its own (the workspace; the host's files too, for a
        /// command outside any sandbox), when it can.
        public var mayRead: Labels?
        /// The join of everything the run had read when it was decided.
        public var held: Labels
        public var allowed: Bool
        public var reason: String

        /// The decision as the one who asked sees it.
        public var outcome: EgressDecision { allowed ? .allow : .refuse(reason: reason) }

        public var json: JSONValue {
            var json: [String: JSONValue] = [
                "kind": .string(egress.kind.rawValue), "destination": .string(egress.destination),
                "bytes": .number(Double(egress.payload.count)), "source": .string(egress.source),
                "labels": labels.json, "destination_clearance": .string(destinationClearance.description),
                "decision": .string(allowed ? "allow" : "refuse"), "reason": .string(reason),
            ]
            if let mayRead { json["may_read"] = mayRead.json }
            // What a model request carries is recorded with the request; anything else sent is
            // recorded here, so `audit` can check the bytes, not only the labels.
            if egress.kind != .model, !egress.payload.isEmpty {
                json["sent"] = .string(String(decoding: egress.payload, as: UTF8.self))
            }
            json["run_held"] = held.json
            return .object(json)
        }
    }

    private struct State {
        /// The join of everything the run has read.
        var held = Labels(.public, .trusted)
        var decisions: [Decision] = []
    }

    public let allowExfiltration: Bool
    /// The labels of the workspace, which some senders can read on their own.
    public let workspace: Labels
    private let state = Mutex(State())

    public init(allowExfiltration: Bool, workspace: Labels = Labels(.public, .trusted)) {
        self.allowExfiltration = allowExfiltration
        self.workspace = workspace
    }

    /// Records that the run has read content with these labels.
    public func observe(_ labels: Labels) {
        state.withLock { $0.held = $0.held.join(labels) }
    }

    /// The join of everything the run has read so far.
    public var held: Labels { state.withLock { $0.held } }

    public var decisions: [Decision] { state.withLock { $0.decisions } }

    /// Decides, and keeps, one egress carrying content labelled `labels` to a destination
    /// cleared for `clearance` (the public internet is `.public`).
    public func check(_ egress: Egress, carrying labels: Labels, destinationClearance clearance: Confidentiality)
        -> Decision
    {
        state.withLock { state in
            var allowed = true
            var reason = "\(labels.confidentiality) content to a destination cleared for \(clearance)"
            let mayRead: Labels? =
                switch egress.reach {
                case .payload: nil
                case .workspace: workspace
                case .host: workspace.join(Workspace.host)
                }
            if labels.confidentiality > clearance {
                allowed = false
                reason = "\(labels.confidentiality) content may not go to a destination cleared only for \(clearance)"
            } else if let mayRead, mayRead.confidentiality > clearance, !allowExfiltration {
                allowed = false
                reason =
                    "a \(egress.kind.rawValue) egress can read \(mayRead.confidentiality) files (\(egress.reach == .host ? "the workspace's and the host's, outside any sandbox" : "the workspace's")) and send them to a destination cleared only for \(clearance); it needs privacy.allow_exfiltration in the spec"
            } else if egress.kind != .model, state.held.confidentiality >= .private,
                state.held.confidentiality > clearance, state.held.integrity == .untrusted, !allowExfiltration
            {
                allowed = false
                reason =
                    "the run holds \(state.held.confidentiality) data and has read untrusted content; \(egress.kind.rawValue) egress needs privacy.allow_exfiltration in the spec"
            }
            let decision = Decision(
                egress: egress, labels: labels, destinationClearance: clearance, mayRead: mayRead, held: state.held,
                allowed: allowed, reason: reason)
            state.decisions.append(decision)
            return decision
        }
    }

    /// The guard as a tool sees it: egress (to the destination's clearance, the public
    /// internet's unless the egress says otherwise) from a step whose inputs carry `labels`;
    /// each decision is also recorded in `effects` when given.
    public func forStep(carrying labels: Labels, recordingIn effects: (any Effects)? = nil, step: String? = nil)
        -> any EgressGuard
    {
        StepGuard(run: self, labels: labels, effects: effects, step: step)
    }

    private struct StepGuard: EgressGuard {
        let run: RunGuard
        let labels: Labels
        let effects: (any Effects)?
        let step: String?

        func check(_ egress: Egress) async -> EgressDecision {
            let decision = run.check(egress, carrying: labels, destinationClearance: egress.clearance)
            do {
                try await effects?.record(.guardDecision, step: step, payload: decision.json)
            } catch {
                // What cannot be accounted for does not leave.
                return .refuse(reason: "the decision could not be recorded: \(error)")
            }
            return decision.outcome
        }
    }
}
