import Foundation

/// What left the machine in a recorded run, and whether anything should not have.
///
/// Two checks, so that a label bug cannot make a leak invisible. The *decisions*: every
/// egress the guard decided (model requests, HTTP, networked shell) and every release to the
/// planner, with the labels it carried and the destination's clearance. The *content*: every
/// body and URL that was sent is searched for the text the run held above that destination's
/// clearance before it was sent — runs of ``window`` characters, identifier-like tokens —
/// as written, URL-escaped, base64- or hex-encoded. What was held is what the run's tools and
/// models produced and what its guarded model requests carried, labelled by what their steps
/// recorded and what their tools can read; the task and the released
/// (declassified) texts are the only text known to be free to go anywhere. A hit is a leak,
/// whatever the labels said.
public struct Audit: Sendable {
    /// One egress as `audit` lists it (`kind`, `destination`, `bytes`, `labels`,
    /// `destination_clearance`, `decision`, `reason`, `sequence`, `step`).
    public var egress: [JSONValue] = []
    /// Text held above a destination's clearance found in what was sent there.
    public var leaks: [Leak] = []
    /// An egress the guard allowed although its labels were above the destination's clearance.
    public var allowedAboveClearance = false
    /// Content-dependent facts about withheld results the planner was shown
    /// (`privacy.planner_metadata: coarse`), in bits: an upper bound on what they told.
    public var releasedBits = 0.0

    /// Nothing above a destination's clearance left: by the decisions and by the bytes.
    public var clean: Bool { !allowedAboveClearance && leaks.isEmpty }

    public struct Leak: Sendable, Hashable {
        /// The event that sent it, and its step.
        public var sequence: Int
        public var step: String
        public var destination: String
        public var clearance: Confidentiality
        /// The event whose text was found, and that text's labels.
        public var heldIn: Int
        public var held: Confidentiality
        /// What matched (clipped), and how it was spelled in what was sent.
        public var evidence: String
        public var encoding: String

        public var json: JSONValue {
            [
                "sequence": .number(Double(sequence)), "step": .string(step), "destination": .string(destination),
                "destination_clearance": .string(clearance.description), "held_in": .number(Double(heldIn)),
                "held": .string(held.description), "evidence": .string(evidence), "encoding": .string(encoding),
            ]
        }
    }

    /// Bytes in a row (ASCII case and runs of space aside) that make a match.
    public static let window = 32

    /// Audits `run`, as `store` recorded it.
    public init(of run: RunID, in store: TraceStore) async throws {
        guard let summary = try await store.run(run) else { throw TraceError("no run \(run)") }
        self.init(
            events: try await store.events(run, resolvingBlobs: true), task: summary.task,
            header: try await store.runHeader(run))
    }

    /// Audits `events` (blobs resolved) of a run on `task` with `header`.
    public init(events: [TraceEvent], task: String, header: RunHeader) {
        let profiles = header.profiles ?? [:]
        var held = HeldText()
        held.allow(task)
        // The names the planner is given with every request, and the kind of each step it is
        // shown even when the step's content is withheld (an MCP tool's name is long enough to
        // be evidence).
        for tool in header.tools ?? [] {
            held.allow(tool)
            held.allow("tool:\(tool)")
        }
        // The labels of each step's result, as the run settled them, and at least what the
        // header says its tool can read (so a labelling bug in the run does not lower them).
        let toolLabels = header.toolLabels ?? [:]
        var stepLabels: [String: Labels] = [:]
        for event in events {
            guard let step = event.step else { continue }
            switch event.kind {
            case .stepFinished, .stepFailed:
                var labels = Labels(recorded: event.payload["labels"])
                if let kind = event.payload["kind"]?.stringValue, kind.hasPrefix("tool:"),
                    let reads = toolLabels[String(kind.dropFirst(5))]
                {
                    labels = labels.join(reads)
                }
                stepLabels[step] = stepLabels[step].map { $0.join(labels) } ?? labels
            case .toolCall:
                if let name = event.payload["name"]?.stringValue, let reads = toolLabels[name] {
                    stepLabels[step] = stepLabels[step].map { $0.join(reads) } ?? reads
                }
            default: break
            }
        }
        // An allowed model decision waits, by step, for the request it let out (which follows
        // it in the same step); the labels a request carried, its answer carries too.
        var awaitingRequest: [String: [(row: Int, labels: Labels, clearance: Confidentiality)]] = [:]
        var answerLabels: [String: Labels] = [:]
        for event in events {
            let step = event.step ?? ""
            switch event.kind {
            case .guardDecision:
                var row = event.payload.objectValue ?? [:]
                row["sequence"] = .number(Double(event.sequence))
                row["step"] = .string(step)
                row.removeValue(forKey: "sent")
                let labels = Labels(recorded: event.payload["labels"])
                let clearance = Confidentiality(recorded: event.payload["destination_clearance"]) ?? .public
                let allowed = event.payload["decision"]?.stringValue == "allow"
                if event.payload["kind"]?.stringValue == "model" {
                    if allowed { awaitingRequest[step, default: []].append((egress.count, labels, clearance)) }
                } else if allowed {
                    let sent = [
                        event.payload["destination"]?.stringValue ?? "", event.payload["sent"]?.stringValue ?? "",
                    ]
                    check(
                        sent, sentIn: event, destination: event.payload["destination"]?.stringValue ?? "",
                        clearance: clearance, held: held)
                }
                egress.append(.object(row))
                if allowed, labels.confidentiality > clearance { allowedAboveClearance = true }
            case .modelRequest:
                // The body sent; for a run recorded without it, the request's size.
                let wire = event.payload["wire"]
                let sent = wire?["body"]?.requestBytes ?? event.payload["request"]?.canonicalBytes
                let bytes = JSONValue.number(Double(sent?.count ?? 0))
                let profile = event.payload["profile"]?.stringValue ?? "?"
                var destination = wire?["url"]?.stringValue ?? profiles[profile]?.destination ?? profile
                var clearance = profiles[profile]?.clearance ?? .public
                var carried: Labels?
                if let decision = awaitingRequest[step]?.first, case .object(var row) = egress[decision.row] {
                    awaitingRequest[step]?.removeFirst()
                    carried = decision.labels
                    answerLabels[step] = decision.labels
                    clearance = decision.clearance
                    destination = row["destination"]?.stringValue ?? destination
                    row["bytes"] = bytes
                    egress[decision.row] = .object(row)
                } else {
                    // A request no guard decided on (a chat run): shown with what its profile may see.
                    egress.append([
                        "sequence": .number(Double(event.sequence)), "kind": "model", "step": .string(step),
                        "destination": .string(profiles[profile]?.destination ?? profile),
                        "destination_clearance": .string(profiles[profile]?.clearance.description ?? "unknown"),
                        "bytes": bytes,
                        "labels": .null, "decision": "unguarded",
                        "reason": "a direct model call; no run guard decided it",
                    ])
                }
                // What the run wrote into the request; the system prompt and the tools' schemas
                // come from the spec, the URL from the profile.
                let body = wire?["body"] ?? event.payload["request"] ?? .null
                let written = Self.writtenParts(of: body)
                check(written, sentIn: event, destination: destination, clearance: clearance, held: held)
                // What a request carried is held with its labels from then on: a ticket sent to
                // the local model is private text, though no tool read it.
                if let carried { held.add(written, labels: carried, at: event.sequence) }
            case .modelResponse:
                let labels = answerLabels[step] ?? stepLabels[step] ?? Labels(.secret, .untrusted)
                held.add(Self.strings(in: event.payload), labels: labels, at: event.sequence)
            case .toolResult:
                let output = event.payload["output"] ?? .null
                var labels = Labels(recorded: output["labels"])
                if let settled = stepLabels[step] { labels = labels.join(settled) }
                held.add(Self.strings(in: output), labels: labels, at: event.sequence)
            case .toolError, .stepFailed:
                // An agent's tool call (`$3.1.2`) is labelled like its tool, or else its agent step.
                let enclosing = String(step.prefix { $0 != "." })
                let labels = stepLabels[step] ?? stepLabels[enclosing] ?? Labels(.secret, .untrusted)
                held.add(Self.strings(in: event.payload), labels: labels, at: event.sequence)
            case .declassify:
                let released = event.payload["released"]?.stringValue
                if let released { held.allow(released) }
                let to = event.payload["to"]?.stringValue
                egress.append([
                    "sequence": .number(Double(event.sequence)), "kind": "declassify", "step": .string(step),
                    "destination": .string(to.flatMap { profiles[$0]?.destination } ?? to ?? "the planner"),
                    "destination_clearance": .string(to.flatMap { profiles[$0]?.clearance.description } ?? "unknown"),
                    "bytes": .number(Double(released?.utf8.count ?? 0)),
                    "labels": event.payload["labels"] ?? event.payload["source_labels"] ?? .null,
                    "decision": released == nil ? "refuse" : "allow",
                    "reason": .string(
                        released == nil
                            ? "declassification of \(event.payload["source"]?.stringValue ?? "?") refused: \(event.payload["reason"]?.stringValue ?? "privacy.declassify is never")"
                            : "\(event.payload["source"]?.stringValue ?? "?") released as the spec's privacy.declassify (\(event.payload["policy"]?.stringValue ?? "?")) allows, secret-scanned"
                    ),
                ])
            case .plannerMetadata:
                releasedBits += event.payload["bits"]?.doubleValue ?? 0
            default: break
            }
        }
    }

    /// Searches what `event` sent to a destination cleared for `clearance` for text held
    /// above it, and records the first match.
    private mutating func check(
        _ parts: [String], sentIn event: TraceEvent, destination: String, clearance: Confidentiality,
        held: HeldText
    ) {
        guard clearance < .secret else { return }
        for part in parts where !part.isEmpty {
            for (text, encoding) in Self.decodings(of: part) {
                if let match = held.match(in: text, above: clearance, before: event.sequence) {
                    leaks.append(
                        Leak(
                            sequence: event.sequence, step: event.step ?? "", destination: destination,
                            clearance: clearance, heldIn: match.sequence, held: match.level,
                            evidence: String(match.text.prefix(48)), encoding: encoding))
                    return
                }
            }
        }
    }

    /// The strings of a model request's body that the run wrote: every message but the
    /// system prompt (Chat Completions' and Ollama's `messages`, the Responses API's `input`),
    /// with the tool calls and results in them. The rest — the tools' schemas, a response
    /// format's schema, options — comes from the spec and the profile.
    static func writtenParts(of body: JSONValue) -> [String] {
        var parts: [String] = []
        for message in body["messages"]?.arrayValue ?? body["input"]?.arrayValue ?? [] {
            let role = message["role"]?.stringValue
            if role == "system" || role == "developer" { continue }
            parts += strings(in: message, keys: false)
        }
        if let input = body["input"]?.stringValue { parts.append(input) }
        return parts
    }

    /// Every string in a JSON value, object keys too unless `keys` is false (a message's keys
    /// are the wire format's, a tool's data may be keyed by content).
    static func strings(in value: JSONValue, keys: Bool = true) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let items): items.flatMap { strings(in: $0, keys: keys) }
        case .object(let object): object.flatMap { (keys ? [$0.key] : []) + strings(in: $0.value, keys: keys) }
        default: []
        }
    }

    /// `text` as sent, and the texts its cheap encodings spell: percent-escapes undone, and
    /// each run of base64 or hex decoded.
    static func decodings(of text: String) -> [(String, String)] {
        var decoded: [(String, String)] = [(text, "plain")]
        if text.contains("%"), let unescaped = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
            unescaped != text
        {
            decoded.append((unescaped, "url-escaped"))
        }
        var base64: [String] = []
        var hex: [String] = []
        func isBase64(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                || [0x2B, 0x2F, 0x3D, 0x2D, 0x5F].contains(byte)
        }
        func isHex(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66)
        }
        CopiedText.forEachRun(of: text, where: isBase64) { run in
            guard run.count >= 16 else { return }
            if run.count % 2 == 0, run.allSatisfy(isHex) {
                var decoded: [UInt8] = []
                var at = run.startIndex
                while at < run.endIndex {
                    decoded.append(UInt8(String(decoding: run[at..<(at + 2)], as: UTF8.self), radix: 16)!)
                    at += 2
                }
                hex.append(String(decoding: decoded, as: UTF8.self))
            }
            // URL-safe letters as standard ones, padding dropped, then every alignment, so a run
            // cut out of a longer encoding still decodes.
            let standard = run.map { $0 == 0x2D ? 0x2B : $0 == 0x5F ? 0x2F : $0 }.filter { $0 != 0x3D }
            for offset in 0..<min(4, standard.count) {
                let piece = standard.dropFirst(offset)
                if let data = Data(base64Encoded: Data(piece.prefix(piece.count - piece.count % 4))) {
                    base64.append(String(decoding: data, as: UTF8.self))
                }
            }
        }
        decoded += base64.map { ($0, "base64") } + hex.map { ($0, "hex") }
        return decoded
    }
}

/// The text a run held, by confidentiality and when it was first held at each, in the two
/// forms the audit matches (see `CopiedText`): runs of ``Audit/window`` folded bytes (by
/// hash), and identifier-like tokens. Text known to be free (the task, released texts) is kept apart and never matches.
struct HeldText {
    struct Match {
        var text: String
        var sequence: Int
        var level: Confidentiality
    }

    /// For each window's hash and each level (by raw value), the first event that held it.
    private var windows: [UInt64: SIMD4<Int>] = [:]
    private var tokens: [String: SIMD4<Int>] = [:]
    private var free: Set<UInt64> = []
    private var freeTokens: Set<String> = []
    private static let never = SIMD4<Int>(repeating: .max)

    mutating func allow(_ text: String) {
        CopiedText.forEachWindow(of: text, width: Audit.window) { hash, _ in free.insert(hash) }
        for token in Self.identifiers(in: text) { freeTokens.insert(token) }
    }

    mutating func add(_ texts: [String], labels: Labels, at sequence: Int) {
        let level = labels.confidentiality.rawValue
        func note(_ first: inout SIMD4<Int>) { first[level] = min(first[level], sequence) }
        for text in texts {
            CopiedText.forEachWindow(of: text, width: Audit.window) { hash, _ in
                note(&windows[hash, default: Self.never])
            }
            for token in Self.identifiers(in: text) { note(&tokens[token, default: Self.never]) }
        }
    }

    /// The first text of `sent` that the run held above `clearance` before event `sequence`,
    /// and held there first: text that was held within the clearance before (a tool's name in
    /// a plan, a page fetched before a private file said the same) is not taken for a leak;
    /// text held above it first stays a leak however it is labelled later (a lie).
    func match(in sent: String, above clearance: Confidentiality, before sequence: Int) -> Match? {
        func earliest(_ first: SIMD4<Int>?) -> (Int, Confidentiality)? {
            guard let first else { return nil }
            var within = Int.max
            var above: (held: Int, level: Int)?
            for level in 0..<4 {
                if level <= clearance.rawValue {
                    within = min(within, first[level])
                } else if first[level] < (above?.held ?? .max) {
                    above = (first[level], level)
                }
            }
            guard let above, above.held < sequence, above.held < within else { return nil }
            return (above.held, Confidentiality(rawValue: above.level)!)
        }
        // Every token sent, in any case: an identifier lower-cased is still the identifier.
        for token in CopiedText.tokens(in: sent).map({ $0.lowercased() }) where !freeTokens.contains(token) {
            if let (held, level) = earliest(tokens[token]) { return Match(text: token, sequence: held, level: level) }
        }
        var found: Match?
        CopiedText.forEachWindow(of: sent, width: Audit.window) { hash, window in
            guard found == nil, !free.contains(hash), let (held, level) = earliest(windows[hash]) else { return }
            found = Match(text: window(), sequence: held, level: level)
        }
        return found
    }

    /// The identifier-like tokens of `text` the audit holds, lower-cased: at least 8
    /// characters, or 6 with three digits (shorter ones are too common to be evidence).
    static func identifiers(in text: String) -> Set<String> {
        Set(
            CopiedText.tokens(in: text).filter { token in
                token.utf8.count >= 6 && (token.utf8.count >= 8 || token.filter(\.isNumber).count >= 3)
                    && CopiedText.isIdentifierLike(token)
            }.map { $0.lowercased() })
    }
}

extension Confidentiality {
    /// A level as a record spells it; `nil` when it names none.
    init?(recorded json: JSONValue?) {
        guard let name = json?.stringValue, let level = Confidentiality(name: name) else { return nil }
        self = level
    }
}
