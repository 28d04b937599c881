internal import CXML2
import Foundation

/// Readable text from an HTML page, through libxml2's forgiving HTML parser: the title,
/// headings, paragraphs and list items on their own lines, links as `text <url>`; scripts,
/// styles and other invisible parts left out.
public enum HTMLText {
    public static func text(from html: [UInt8], url: String) -> String {
        guard !html.isEmpty else { return "" }
        let options = Int32(
            HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                | HTML_PARSE_NONET.rawValue | HTML_PARSE_COMPACT.rawValue)
        let document = html.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                htmlReadMemory(chars.baseAddress, Int32(chars.count), url, nil, options)
            }
        }
        guard let document else { return "" }
        defer { xmlFreeDoc(document) }
        var writer = Writer()
        if let root = xmlDocGetRootElement(document) { writer.visit(root) }
        return writer.finish()
    }

    private static let hidden: Set<String> = [
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "head", "button", "select",
        "input", "form", "nav", "footer",
    ]
    private static let blocks: Set<String> = [
        "p", "div", "section", "article", "main", "header", "aside", "ul", "ol", "li", "dl", "dt", "dd", "table", "tr",
        "blockquote", "pre", "figure", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "body", "html",
    ]

    private struct Writer {
        var output = ""
        var pendingBreak = false
        var preformatted = 0

        mutating func visit(_ node: UnsafeMutablePointer<xmlNode>) {
            var child: UnsafeMutablePointer<xmlNode>? = node
            while let current = child {
                switch current.pointee.type {
                case XML_ELEMENT_NODE: element(current)
                case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                    if let content = current.pointee.content { text(String(cString: content)) }
                default: break
                }
                child = current.pointee.next
            }
        }

        mutating func element(_ node: UnsafeMutablePointer<xmlNode>) {
            let name = node.pointee.name.map { String(cString: $0).lowercased() } ?? ""
            if name == "head" {
                // Only the title is worth reading in the head.
                var child = node.pointee.children
                while let current = child {
                    if current.pointee.name.map({ String(cString: $0).lowercased() }) == "title",
                        let content = xmlNodeGetContent(current)
                    {
                        let title = String(cString: content).split(whereSeparator: \.isWhitespace).joined(
                            separator: " ")
                        sy_xml_free(content)
                        if !title.isEmpty { output += "# \(title)\n\n" }
                    }
                    child = current.pointee.next
                }
                return
            }
            if HTMLText.hidden.contains(name) { return }
            let isBlock = HTMLText.blocks.contains(name)
            if isBlock { pendingBreak = true }
            if name.count == 2, name.hasPrefix("h"), let level = Int(name.dropFirst()) {
                breakLine()
                output += String(repeating: "#", count: level) + " "
            }
            if name == "li" {
                breakLine()
                output += "- "
            }
            if name == "pre" { preformatted += 1 }
            if let children = node.pointee.children { visit(children) }
            if name == "pre" { preformatted -= 1 }
            if name == "a", let href = xmlGetProp(node, "href") {
                let link = String(cString: href)
                sy_xml_free(href)
                if link.hasPrefix("http") { output += " <\(link)>" }
            }
            if isBlock { pendingBreak = true }
        }

        mutating func text(_ text: String) {
            if preformatted > 0 {
                breakLine()
                output += text
                return
            }
            let words = text.split(whereSeparator: \.isWhitespace)
            guard !words.isEmpty else {
                if !text.isEmpty, !output.hasSuffix(" "), !output.hasSuffix("\n") { output += " " }
                return
            }
            breakLine()
            if let first = text.first, first.isWhitespace, !output.hasSuffix(" "), !output.hasSuffix("\n"),
                !output.isEmpty
            {
                output += " "
            }
            output += words.joined(separator: " ")
            if let last = text.last, last.isWhitespace { output += " " }
        }

        mutating func breakLine() {
            guard pendingBreak else { return }
            pendingBreak = false
            while output.hasSuffix(" ") { output.removeLast() }
            if !output.isEmpty, !output.hasSuffix("\n") { output += "\n" }
        }

        mutating func finish() -> String {
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            var result: [String] = []
            for line in lines where !(line.isEmpty && (result.last?.isEmpty ?? true)) { result.append(line) }
            while result.last?.isEmpty == true { result.removeLast() }
            return result.joined(separator: "\n") + "\n"
        }
    }
}
