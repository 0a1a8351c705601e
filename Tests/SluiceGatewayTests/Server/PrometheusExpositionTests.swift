import Testing

@testable import SluiceGateway

/// The Prometheus text format as the metrics listener writes it.
@Suite struct PrometheusExpositionTests {
    @Test("families with HELP and TYPE, labels in order with values escaped, integers without a fraction")
    func text() {
        var exposition = PrometheusExposition()
        exposition.family(
            "sluice_x_total", .counter, help: "A count\nwith \\ a line",
            [
                .init(labels: [("api", "a"), ("reason", "said \"no\"\nthen \\ left")], value: 3),
                .init(labels: [], value: 0.5),
            ])
        exposition.family("sluice_empty", .gauge, help: "nothing", [])
        #expect(
            exposition.text == """
                # HELP sluice_x_total A count\\nwith \\\\ a line
                # TYPE sluice_x_total counter
                sluice_x_total{api="a",reason="said \\"no\\"\\nthen \\\\ left"} 3
                sluice_x_total 0.5

                """)
        #expect(PrometheusExposition.format(.infinity) == "+Inf")
        #expect(PrometheusExposition.format(-2) == "-2")
    }
}
