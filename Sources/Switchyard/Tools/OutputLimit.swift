/// How much of a tool's output a model gets to read.
public struct OutputLimit: Sendable, Hashable {
    public var bytes: Int
    public var lines: Int

    public init(bytes: Int = 32 * 1024, lines: Int = 1000) {
        self.bytes = bytes
        self.lines = lines
    }

    /// The longest start of `text` within the limit that ends at a line boundary (or the
    /// first line cut at the byte limit, when even that is too long).
    public func prefix(of text: String) -> Substring {
        var lineCount = 0
        var byteCount = 0
        var index = text.startIndex
        let utf8 = text.utf8
        while index < text.endIndex {
            let end = utf8[index...].firstIndex(of: UInt8(ascii: "\n")).map { utf8.index(after: $0) } ?? text.endIndex
            let length = utf8.distance(from: index, to: end)
            if lineCount == lines || byteCount + length > bytes {
                if index == text.startIndex { return firstCharacters(of: text) }
                break
            }
            lineCount += 1
            byteCount += length
            index = end
        }
        return text[..<index]
    }

    /// As many whole characters from the start of `text` as fit in `bytes`.
    private func firstCharacters(of text: String) -> Substring {
        var count = 0
        var end = text.startIndex
        for character in text {
            count += character.utf8.count
            if count > bytes { break }
            end = text.index(after: end)
        }
        return text[..<end]
    }

    /// `text` cut to the limit at a line boundary, with an explicit marker saying how
    /// much was left out and `hint` (how to get more), and whether anything was cut.
    public func apply(to text: String, hint: String) -> (text: String, truncated: Bool) {
        let kept = prefix(of: text)
        guard kept.endIndex < text.endIndex else { return (text, false) }
        let rest = text[kept.endIndex...]
        let restLines = rest.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } + (rest.hasSuffix("\n") ? 0 : 1)
        var output = String(kept)
        if !output.isEmpty, !output.hasSuffix("\n") { output += "\n" }
        output += "[truncated: \(restLines) more lines (\(rest.utf8.count) bytes) not shown; \(hint)]\n"
        return (output, true)
    }
}
