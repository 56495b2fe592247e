from sync.simulator.server import main

raise SystemExit(main())
