//! Local fakes of the push services Gatebell talks to.
