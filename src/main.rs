fn main() {
    std::process::exit(fdb_bridge_helper::main())
}
