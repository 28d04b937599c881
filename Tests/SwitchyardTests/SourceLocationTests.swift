import Switchyard
import Testing

@Suite struct SourceLocationTests {
    @Test func readsSearchesAndPassagesGiveTheLinesTheyShowed() {
        let read = Artifact(
            handle: "$2", kind: "tool:read", labels: .userInput, text: "",
            data: ["path": "Sources/A.swift", "start_line": 1, "end_line": 40, "total_lines": 90])
        let search = Artifact(
            handle: "$3", kind: "tool:search", labels: .userInput, text: "",
            data: [
                "matches": 3,
                "lines": [
                    ["path": "Sources/B.swift", "line": 7, "text": "struct B"],
                    ["path": "Sources/A.swift", "line": 41, "text": "x"],
                    ["path": "Sources/A.swift", "line": 60, "text": "y"],
                ],
            ])
        let passages = Artifact(
            handle: "$4", kind: "tool:vector_search", labels: .userInput, text: "",
            data: ["hits": [["id": "h", "metadata": ["path": "Sources/B.swift", "start_line": 1, "end_line": 8]]]])
        let model = Artifact(handle: "$5", kind: "model", labels: .userInput, text: "Sources/C.swift:3")
        let all = [read, search, passages, model].flatMap(SourceLocation.shown(by:))
        #expect(all.count == 5)
        // Per file in the order first read; overlapping and adjacent ranges joined.
        #expect(
            SourceLocation.merged(all).map(\.description) == [
                "Sources/A.swift:1-41", "Sources/A.swift:60", "Sources/B.swift:1-8",
            ])
    }
}
