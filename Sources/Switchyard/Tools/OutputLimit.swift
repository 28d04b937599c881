/// How much of a tool's output a model gets to read.
public struct OutputLimit: Sendable, Hashable {
    public var bytes: Int
    public var lines: Int

    public init(bytes: Int = 32 * 1024, lines: Int = 1000) {
        self.bytes = bytes
        self.lines = lines
    }

    /// `text` cut to the limit at a line boundary, with an explicit marker saying how
    /// much was left out and `hint` (how to get more), and whether anything was cut.
    public func apply(to text: String, hint: String) -> (text: String, truncated: Bool) {
        var lineCount = 0
        var byteCount = 0
        var cut: String.Index?
        var index = text.startIndex
        let utf8 = text.utf8
        while index < text.endIndex {
            let end = utf8[index...].firstIndex(of: UInt8(ascii: "\n")).map { utf8.index(after: $0) } ?? text.endIndex
            let length = utf8.distance(from: index, to: end)
            if lineCount == lines || byteCount + length > bytes {
                cut = index
                break
            }
            lineCount += 1
            byteCount += length
            index = end
        }
        guard let cut else { return (text, false) }
        let rest = text[cut...]
        let restLines = rest.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } + (rest.hasSuffix("\n") ? 0 : 1)
        var kept = String(text[..<cut])
        if !kept.isEmpty, !kept.hasSuffix("\n") { kept += "\n" }
        kept += "[truncated: \(restLines) more lines (\(rest.utf8.count) bytes) not shown; \(hint)]\n"
        return (kept, true)
    }
}
