import Testing

@testable import SluiceStore

@Suite("page requests")
struct PageRequestTests {
    @Test("a page number whose offset would overflow is refused as invalid, with its path")
    func hugePage() throws {
        for page in [Int.max, PageRequest.maximumPage + 1] {
            #expect {
                try PageRequest(page: page, perPage: 1000).validated()
            } throws: { error in
                (error as? StoreError)?.problems.map(\.path) == ["page"]
            }
        }
        #expect(try PageRequest(page: PageRequest.maximumPage, perPage: 1000).validated().offset > 0)
    }
}
