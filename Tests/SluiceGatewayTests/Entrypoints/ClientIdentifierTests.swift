import SluiceEntrypoints
import Testing

@Suite("client identifiers")
struct ClientIdentifierTests {
    @Test("identifiers made a block at a time per connection are unique across connections and across blocks")
    func blocksNeverOverlap() {
        var first = ClientIdentifierNumbers()
        var second = ClientIdentifierNumbers()
        var made: Set<String> = []
        // 600 from each, interleaved, cross two block boundaries of each; one-off ones are drawn in between.
        for _ in 0..<600 {
            made.insert(first.generate())
            made.insert(second.generate())
            made.insert(ClientIdentifier.generate())
        }
        #expect(made.count == 1_800)
        for identifier in made {
            let groups = identifier.split(separator: "-").map(\.count)
            #expect(groups == [8, 4, 4, 4, 12], "\(identifier)")
        }
    }
}
