extension FlowEngine {
    /// Gravitee's best match among flows that already match `path`: each flow's path (its `http` or `channel`
    /// selector's; `/` without one) is split on `/` (keeping empty parts, so `/books` is `["", "books"]`), and each
    /// part scores 1 when it equals the request's part at that place (or the request has no part there), 0.5 when
    /// it is a `:parameter`, else 0. Flows are read in order; a flow replaces the one chosen so far when its scores,
    /// read left to right, are first greater at some place, or when it is longer and equal up to the chosen one's
    /// length. So `/books/9999/chapters` beats `/books/:bookId/chapters/:chapterId` for `/books/9999/chapters/1`,
    /// and the longer `/books/:bookId` beats `/books`.
    static func bestMatch(_ flows: [Flow], path: String) -> Flow? {
        let requestParts = path.split(separator: "/", omittingEmptySubsequences: false)
        var chosen: (flow: Flow, scores: [Double])?
        for flow in flows {
            let parts = (flow.matcher.pathPattern?.text ?? "/").split(separator: "/", omittingEmptySubsequences: false)
            let scores = parts.enumerated().map { index, part -> Double in
                if index >= requestParts.count || part == requestParts[index] { return 1 }
                return part.hasPrefix(":") ? 0.5 : 0
            }
            guard let current = chosen else {
                chosen = (flow, scores)
                continue
            }
            for index in scores.indices {
                if index == current.scores.count {
                    chosen = (flow, scores)
                    break
                }
                if scores[index] < current.scores[index] { break }
                if scores[index] > current.scores[index] {
                    chosen = (flow, scores)
                    break
                }
            }
        }
        return chosen?.flow
    }
}
