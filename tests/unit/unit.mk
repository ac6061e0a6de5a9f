UNIT_TESTS := test_conf test_zone test_zone_read test_query test_dnsclient test_tsig test_update test_node test_state test_json test_txt test_switch test_check test_readers test_sentinel test_xfr test_notify test_metrics test_manpage test_journal test_snapshot
UNIT_LDLIBS := -lcmocka
